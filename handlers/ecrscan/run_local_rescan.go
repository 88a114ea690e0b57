package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/queue"
)

// demoRescan is make run's forced rescan of the sample image, once its
// push has settled: a manual scan request sent to the scan queue as
// `ecrscan rescan` sends it. The QScanner stand-in (a TEST TOOL, not
// Qualys QScanner) was told by QSCANNER_STANDIN_VARY to vary its second run
// of a digest, dropping two findings and adding five (one HIGH, one
// CRITICAL), as new vulnerabilities published between scans would. The
// run fails unless the rescan completes with a new scan ID, points at the
// previous scan, carries what changed, and the alert says what is new.
func (r *localRun) demoRescan(ctx context.Context, st *localStack, ref domain.ImageRef, timeout time.Duration) error {
	fmt.Fprintln(r.out)
	store, queueURL, err := r.rescanTargets(st)
	if err != nil {
		return err
	}
	before, err := store.Get(ctx, ref.Digest)
	if err != nil {
		return fmt.Errorf("rescan demo: the sample's first scan: %w", err)
	}
	r.pushed = time.Now()
	r.say("rescan   forcing a new scan of %s (cause manual, as `ecrscan rescan` does); the stand-in (a test tool) reports different findings on its second run", ref.Display())
	req := events.NewScanRequest(domain.CauseManual, ref, "make run", time.Now(), true)
	if err := queue.SendScanRequests(ctx, sqs.NewFromConfig(st.cfg), queueURL, []events.ScanRequestMessage{req}); err != nil {
		return err
	}
	s, err := awaitScan(ctx, store, ref.Digest, req.NotBefore, true, timeout)
	if err != nil {
		return fmt.Errorf("rescan demo: %w", err)
	}
	if err := checkRescan(before, s); err != nil {
		return fmt.Errorf("rescan demo: %w", err)
	}
	prev, _ := s.Previous()
	changes, _ := s.Changes()
	r.say("record   rescan %s COMPLETED (cause %s); previous scan %s kept, its report still at s3://%s/%s", short(s.ScanID()), s.Cause(), short(prev.ScanID), prev.Report.Bucket, prev.Report.Key)
	r.say("changes  %s", describeChanges(&changes))
	if err := r.awaitRescanAlert(ctx, st, timeout); err != nil {
		return err
	}
	if err := r.awaitQuiet(ctx, st, timeout); err != nil {
		return err
	}
	if err := r.checkFollowers(ctx, st, ref, s); err != nil {
		return fmt.Errorf("rescan demo: %w", err)
	}
	return r.demoSweep(ctx, st, store, ref, timeout)
}

// checkFollowers checks that the repository's labels and the Security Hub
// findings follow the rescan: the labels name its time, and the active
// findings are its vulnerabilities and secrets (those it no longer has
// archived).
func (r *localRun) checkFollowers(ctx context.Context, st *localStack, ref domain.ImageRef, s *domain.Scan) error {
	obs := st.pipeline.Observer(st.cfg)
	tags, err := obs.RepositoryTags(ctx, ref)
	if err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339Nano, tags[ecrstore.LabelScanTime])
	if err != nil || !at.Equal(s.CompletedAt()) {
		return fmt.Errorf("repository label %s = %q, want the rescan's time %s", ecrstore.LabelScanTime, tags[ecrstore.LabelScanTime], s.CompletedAt().Format(time.RFC3339Nano))
	}
	r.say("tags     %s: %s (the rescan's)", ref.Repository, formatTags(tags))
	if st.pipeline.Functions["SecurityHubFunction"] == nil {
		return nil
	}
	n, err := obs.SecurityHubFindings(ctx, ref)
	if err != nil {
		return err
	}
	sum, _ := s.Summary()
	if want := sum.Vulnerabilities.Total() + sum.Secrets; n != want {
		return fmt.Errorf("%d active Security Hub findings after the rescan, want %d (its vulnerabilities and secrets; the fixed ones archived)", n, want)
	}
	r.say("findings %d active Security Hub findings: updated to the rescan, the fixed ones archived (RecordState ARCHIVED)", n)
	return nil
}

// sweepAfter is how old a scan must be for the local run's sweep to rescan
// it (RESCAN_AFTER; deployments count RescanAfterDays), so that the sample,
// scanned seconds before, is due.
const sweepAfter = "3s"

// rescanDemoEnv tells the stand-in to vary its later runs of a digest
// (keeping its counts in dir) and makes the sample due for the sweep soon.
func rescanDemoEnv(s runSetup, dir string) {
	s.functionEnv["scan"]["QSCANNER_STANDIN_VARY"] = dir
	s.functionEnv["sweep"] = map[string]string{"RESCAN_AFTER": sweepAfter}
}

// demoSweep runs the continuous-rescan sweep once. moto does not run
// EventBridge Scheduler schedules, so the run invokes the sweep function
// directly, as SweepSchedule would, under its own role; the sweep finds the
// sample due (RESCAN_AFTER), checks it in ECR and enqueues its rescan.
func (r *localRun) demoSweep(ctx context.Context, st *localStack, store domain.ScanStore, ref domain.ImageRef, timeout time.Duration) error {
	fn := st.pipeline.Functions["SweepFunction"]
	if fn == nil {
		return errors.New("sweep demo: the stack has no SweepFunction")
	}
	time.Sleep(3 * time.Second) // let the rescan age past sweepAfter
	before, err := store.Get(ctx, ref.Digest)
	if err != nil {
		return err
	}
	r.pushed = time.Now()
	r.say("sweep    moto does not run EventBridge Scheduler: invoking SweepFunction directly, as SweepSchedule would (scans older than %s are due in this run)", sweepAfter)
	out, err := fn.Invoke(ctx, []byte(`{"source":"make run"}`), "")
	if err != nil {
		return fmt.Errorf("sweep demo: invoke: %w", err)
	}
	r.say("sweep    report %s", out)
	s, err := awaitScan(ctx, store, ref.Digest, r.pushed, true, timeout)
	switch {
	case err != nil:
		return fmt.Errorf("sweep demo: %w", err)
	case s.ScanID() == before.ScanID() || s.Cause() != domain.CauseRescan:
		return fmt.Errorf("sweep demo: no rescan by the sweep (scan %s, cause %s)", short(s.ScanID()), s.Cause())
	}
	changes, _ := s.Changes()
	r.say("record   sweep rescan %s %s (cause %s); %s", short(s.ScanID()), s.Status(), s.Cause(), describeChanges(&changes))
	if err := r.awaitRescanAlert(ctx, st, timeout); err != nil {
		return err
	}
	if err := r.awaitQuiet(ctx, st, timeout); err != nil {
		return err
	}
	r.say("ok       forced rescan and sweep rescan: new scan IDs, previous scans kept, changes computed, alerts on what is new")
	return nil
}

// rescanTargets are the scans table's store and the scan queue's URL.
func (r *localRun) rescanTargets(st *localStack) (domain.ScanStore, string, error) {
	table, err := st.pipeline.Ref("ScansTable")
	if err != nil {
		return nil, "", err
	}
	queue, err := st.pipeline.Ref(scanQueueID)
	if err != nil {
		return nil, "", err
	}
	store, err := dynamostore.NewScanStore(dynamodb.NewFromConfig(st.cfg), table)
	return store, queue, err
}

// checkRescan checks what a rescan must leave on the record.
func checkRescan(before, after *domain.Scan) error {
	prev, hasPrev := after.Previous()
	changes, hasChanges := after.Changes()
	switch {
	case after.Status() != domain.StatusCompleted:
		return fmt.Errorf("the rescan ended %s, want COMPLETED", after.Status())
	case after.ScanID() == before.ScanID():
		return fmt.Errorf("the rescan kept scan ID %s", before.ScanID())
	case !hasPrev || prev.ScanID != before.ScanID():
		return fmt.Errorf("the record does not point at the previous scan %s", before.ScanID())
	case !hasChanges || changes.NewVulnerabilities.Total() == 0:
		return fmt.Errorf("the rescan carries no new findings (changes %v), though the stand-in was told to vary", hasChanges)
	}
	return nil
}

// awaitRescanAlert waits for the alert that says what is new since the
// last scan.
func (r *localRun) awaitRescanAlert(ctx context.Context, st *localStack, timeout time.Duration) error {
	obs := st.pipeline.Observer(st.cfg)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		alerts, err := obs.Alerts(ctx)
		if err != nil {
			return err
		}
		for _, a := range alerts {
			// The text protocols say it in words, the structured (sqs,
			// lambda) message, which the observer receives, in "changes".
			shown, isNew := newSince(a.Message)
			r.say("alert    SNS %q severity=%s kind=%s\n%s", a.Subject, a.Attributes["severity"], a.Attributes["kind"], indent(shown))
			if isNew {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("rescan demo: no \"new since the last scan\" alert within %v", timeout)
}

// newSince reads a structured alert's "changes": what is new since the last
// scan, in a line, and whether the alert carries them; any other alert is
// shown as alertShown shows it.
func newSince(msg string) (string, bool) {
	var a struct {
		Cause   string `json:"cause"`
		Changes *struct {
			PreviousScanID string          `json:"previousScanId"`
			NewQIDs        []domain.DiffID `json:"newQids"`
			FixedQIDs      []domain.DiffID `json:"fixedQids"`
			NewSecrets     int             `json:"newSecrets"`
		} `json:"changes"`
	}
	if json.Unmarshal([]byte(msg), &a) != nil || a.Changes == nil {
		return alertShown(msg), false
	}
	ids := func(l []domain.DiffID) string {
		parts := make([]string, len(l))
		for i, id := range l {
			parts[i] = id.Severity.String() + " " + id.ID
		}
		return strings.Join(parts, ", ")
	}
	c := a.Changes
	return fmt.Sprintf("new since the last scan (%s; cause %s): QIDs %s; %d new secret(s); fixed: %s",
		short(c.PreviousScanID), a.Cause, ids(c.NewQIDs), c.NewSecrets, ids(c.FixedQIDs)), true
}
