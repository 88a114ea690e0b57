package main

import (
	"bytes"
	"context"
	"ecrscanner/infra/clock"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"ecrscanner/domain"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/suppressionstore"
)

// demoRepository is where the suppression demo pushes the sample image a
// second time: inside the rule's scope (demo/*), so the alert, Security Hub
// and tag handlers act on it with the rule in force. The same content in a
// new repository is an ImageReferenced event, not a rescan: the pipeline
// has no forced rescan on this branch (see the note).
const demoRepository = "demo/app-canary"

// demoSuppression is the suppression part of `make run`, after the sample
// push has settled: the gate fails on the sample image, its critical
// vulnerabilities are suppressed with a reason and an expiry, the gate
// passes, and the same image pushed to demo/app-canary is alerted on with
// those findings listed as suppressed, imported SUPPRESSED into Security
// Hub and counted apart in the tags.
func (r *localRun) demoSuppression(ctx context.Context, st *localStack, ref domain.ImageRef, timeout time.Duration) error {
	fmt.Fprintln(r.out, "\nsuppressions: accept the sample image's critical vulnerabilities for a week, and watch the gate and the handlers follow")
	r.pushed = time.Now()
	o := gateOptions{image: imageArg{repository: ref.Repository, tag: ref.Tag}, maxCritical: 0, maxHigh: -1, wait: timeout, stack: st.pipeline.Deployment.Name}
	if res := r.showGate(ctx, st, o); res.ExitCode != exitFailed {
		return fmt.Errorf("suppression demo: the gate should fail before the suppression, it exited %d", res.ExitCode)
	}
	if err := r.suppressCriticals(ctx, st, ref); err != nil {
		return fmt.Errorf("suppression demo: %w", err)
	}
	if res := r.showGate(ctx, st, o); res.ExitCode != exitOK {
		return fmt.Errorf("suppression demo: the gate should pass after the suppression, it exited %d: %s", res.ExitCode, strings.Join(res.Reasons, "; "))
	}
	canary, err := st.reg.Retag(ctx, ecr.NewFromConfig(st.cfg), ref, demoRepository, ref.Tag)
	if err != nil {
		return err
	}
	r.say("push     %s (the same image, so the same digest: an ImageReferenced event; the handlers act with the rule in force)", canary.Display())
	if err := putEvent(ctx, st.cfg, local.PushEvent(canary, time.Now())); err != nil {
		return err
	}
	if err := r.watchSuppressed(ctx, st, canary, timeout); err != nil {
		return fmt.Errorf("suppression demo: %w", err)
	}
	return r.awaitQuiet(ctx, st, 30*time.Second)
}

// showGate runs `ecrscan gate` in-process against the local stack and
// prints its verdict.
func (r *localRun) showGate(ctx context.Context, st *localStack, o gateOptions) gateResult {
	res := gateWith(ctx, st.cfg, o, io.Discard)
	var b strings.Builder
	printGate(&b, res)
	r.say("gate     ecrscan gate %s:%s --max-critical 0 → exit %d\n%s", o.image.repository, o.image.tag, res.ExitCode, indent(strings.TrimRight(b.String(), "\n")))
	return res
}

// suppressCriticals adds one rule per critical vulnerability of the sample
// image's report, as `ecrscan suppress add` would: validated, and written
// with a conditional write to the rules document.
func (r *localRun) suppressCriticals(ctx context.Context, st *localStack, ref domain.ImageRef) error {
	rec, ok, err := st.pipeline.Observer(st.cfg).Record(ctx, ref.Digest)
	if err != nil || !ok || rec.Report == nil {
		return fmt.Errorf("no scan record with a report for %s (%v)", ref.Digest, err)
	}
	bucket, err := st.pipeline.Ref("ResultsBucket")
	if err != nil {
		return err
	}
	client := s3.NewFromConfig(st.cfg, awsconfig.S3Options(st.cfg), quietChecksums)
	reports, err := s3store.NewReports(client, bucket)
	if err != nil {
		return err
	}
	rep, err := reports.GetReport(ctx, *rec.Report)
	if err != nil {
		return err
	}
	store, err := suppressionstore.New(client, bucket)
	if err != nil {
		return err
	}
	rules, etag, err := store.Load(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, v := range rep.Vulnerabilities {
		if v.Severity != domain.SeverityCritical {
			continue
		}
		rule := domain.Suppression{ID: newSuppressionID(), Vulnerability: v.QID, Repositories: []string{"demo/*"},
			Reason: "make run demo: the vulnerable code is not reachable in this image", Owner: "make-run", CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour)}
		if err := rule.Validate(now, 0); err != nil {
			return err
		}
		rules.Rules = append(rules.Rules, rule)
		r.say("suppress %s: QID %s (%s) in demo/* until %s, owner %s: %q", rule.ID, v.QID, v.Severity, rule.ExpiresAt.Format(time.RFC3339), rule.Owner, rule.Reason)
	}
	if err := store.Save(ctx, rules, etag); err != nil {
		return err
	}
	r.say("suppress %d rule(s) written to %s (versioned; If-Match on the ETag read)", len(rules.Rules), store.Location())
	return nil
}

// watchSuppressed waits for the canary's alert, Security Hub findings and
// tags, and shows what each made of the suppression.
func (r *localRun) watchSuppressed(ctx context.Context, st *localStack, canary domain.ImageRef, timeout time.Duration) error {
	obs := st.pipeline.Observer(st.cfg)
	hub := securityhub.NewFromConfig(st.cfg)
	want := map[string]bool{"alert": true, "findings": true, "tags": true}
	deadline := time.Now().Add(timeout)
	for len(want) > 0 && time.Now().Before(deadline) {
		if err := clock.Sleep(ctx, 300*time.Millisecond); err != nil {
			return err
		}
		if want["alert"] {
			alerts, _ := obs.Alerts(ctx)
			for _, a := range alerts {
				if a.Attributes["repository"] == canary.Repository && showSuppressedAlert(r, a) {
					delete(want, "alert")
				}
			}
		}
		if want["findings"] {
			if n, total, note := suppressedFindings(ctx, hub, canary); total > 0 {
				r.say("findings %d of %d Security Hub findings for %s are SUPPRESSED, note: %q", n, total, canary.Display(), note)
				delete(want, "findings")
			}
		}
		if want["tags"] {
			if tags, _ := obs.RepositoryTags(ctx, canary); tags["qualys:suppressed"] != "" {
				r.say("tags     %s: qualys:critical=%s qualys:suppressed=%s", canary.Repository, tags["qualys:critical"], tags["qualys:suppressed"])
				delete(want, "tags")
			}
		}
	}
	if len(want) > 0 {
		return fmt.Errorf("not seen within %v: %v", timeout, want)
	}
	return nil
}

// showSuppressedAlert prints the alert as the observer queue (an SQS
// subscriber) receives it: the structured JSON, whose suppressed section
// lists each finding with its reason. It says whether the alert has one.
func showSuppressedAlert(r *localRun, a local.Alert) bool {
	var msg struct {
		Suppressed *domain.Sifted `json:"suppressed"`
	}
	if json.Unmarshal([]byte(a.Message), &msg) != nil || msg.Suppressed == nil {
		r.say("alert    SNS %q without a suppressed section:\n%s", a.Subject, indent(a.Message))
		return false
	}
	var lines []string
	for _, f := range msg.Suppressed.Listed {
		lines = append(lines, fmt.Sprintf("suppressed %s %s %s: %q (rule %s, until %s)", f.Severity, f.Kind, f.ID, f.Reason, f.RuleID, f.Expires))
	}
	r.say("alert    SNS %q severity=%s: %d finding(s) suppressed, listed apart with their reason\n%s", a.Subject, a.Attributes["severity"], msg.Suppressed.Count(), indent(strings.Join(lines, "\n")))
	return true
}

// suppressedFindings counts ref's active findings and the SUPPRESSED ones
// among them, with one of their notes. moto ignores GetFindings' filters,
// so the findings are picked here.
func suppressedFindings(ctx context.Context, hub *securityhub.Client, ref domain.ImageRef) (suppressed, total int, note string) {
	p := securityhub.NewGetFindingsPaginator(hub, &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return suppressed, total, note
		}
		for _, f := range out.Findings {
			if len(f.Resources) == 0 || f.Resources[0].Details == nil || f.Resources[0].Details.AwsEcrContainerImage == nil {
				continue
			}
			img := f.Resources[0].Details.AwsEcrContainerImage
			if aws.ToString(img.ImageDigest) != ref.Digest.String() || aws.ToString(img.RepositoryName) != ref.Repository || f.RecordState != "ACTIVE" {
				continue
			}
			total++
			if f.Workflow != nil && f.Workflow.Status == "SUPPRESSED" {
				suppressed++
				if f.Note != nil {
					note = aws.ToString(f.Note.Text)
				}
			}
		}
	}
	return suppressed, total, note
}

// alertShown is an alert's message as make run prints it: the structured
// JSON an SQS subscriber gets, cut to a few lines; anything else as it is.
func alertShown(msg string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(msg)) != nil {
		return msg
	}
	return "(the structured JSON an SQS subscriber receives; email gets the text, chat the Amazon Q Developer notification)\n" +
		domain.Truncate(b.String(), 600, " …")
}
