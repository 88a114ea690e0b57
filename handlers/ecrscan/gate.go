package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/domain"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/suppressionstore"
)

func init() {
	register("gate", command{
		usage: "decide whether an image may ship: its scan against limits, after suppressions (exit 0 pass, 1 fail, 3 no result)",
		run:   runGate,
	})
}

// Exit codes of gate beyond exitOK, exitFailed (the image fails, or is not
// in ECR, or a lookup failed) and exitUsage.
const exitNoResult = 3

const gateUsage = `usage: ecrscan gate IMAGE [--max-critical N] [--max-high N] [--no-secrets]
                   [--fixable-only] [--wait DURATION] [--json] [--stack NAME]

IMAGE is repository:tag, repository@sha256:… or either with the ECR registry
host in front. The image is resolved to its digest in ECR (DescribeImages),
the gate waits up to --wait for the digest's scan record, reads the report,
applies the suppressions in force now for that repository and digest, and
decides. Suppressed findings are counted and listed apart, never against
the limits.

  --max-critical N  most CRITICAL vulnerabilities allowed (default 0)
  --max-high N      most HIGH vulnerabilities allowed (default -1: any number)
  --no-secrets      fail on any unsuppressed secret
  --fixable-only    count only vulnerabilities that have a fixed version
  --wait DURATION   how long to wait for the scan of a just-pushed image (default 10m)
  --json            print one JSON object instead of text
  --stack NAME      the scanner's stack (default $STACK_NAME, else qualys-ecr-scanner)

Exit 0: pass. Exit 1: fail — over a limit, the scan failed or was partial,
the image is not in ECR, the suppressions could not be read, or a lookup
failed (the gate never passes what it could not check). Exit 2: bad usage.
Exit 3: no scan result within --wait.`

type gateOptions struct {
	image                imageArg
	maxCritical, maxHigh int
	noSecrets, fixable   bool
	wait                 time.Duration
	json                 bool
	stack                string
}

// gateResult is what the gate decided, and why: the --json form.
type gateResult struct {
	Image       string                     `json:"image"`
	Digest      domain.Digest              `json:"digest,omitempty"`
	Pass        bool                       `json:"pass"`
	ExitCode    int                        `json:"exitCode"`
	Reasons     []string                   `json:"reasons,omitempty"`
	ScanID      string                     `json:"scanId,omitempty"`
	Counted     *domain.Counts             `json:"counted,omitempty"`
	Secrets     int                        `json:"secrets"`
	Suppressed  *domain.Counts             `json:"suppressed,omitempty"`
	Listed      []domain.SuppressedFinding `json:"suppressedFindings,omitempty"`
	FixableOnly bool                       `json:"fixableOnly"`
}

// gatePoll is how often the gate reads the record while it waits; tests
// shorten it.
var gatePoll = 5 * time.Second

func runGate(args []string, stdout, stderr io.Writer) int {
	o, err := parseGateArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, gateUsage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecrscan gate: %v\n", err)
		return exitUsage
	}
	res := evaluateGate(context.Background(), o, stderr)
	if o.json {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printGate(stdout, res)
	}
	return res.ExitCode
}

func parseGateArgs(args []string) (gateOptions, error) {
	o := gateOptions{}
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.maxCritical, "max-critical", 0, "")
	fs.IntVar(&o.maxHigh, "max-high", -1, "")
	fs.BoolVar(&o.noSecrets, "no-secrets", false, "")
	fs.BoolVar(&o.fixable, "fixable-only", false, "")
	fs.DurationVar(&o.wait, "wait", 10*time.Minute, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.StringVar(&o.stack, "stack", stackFromEnv(), "")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return o, err
	}
	if len(positional) != 1 {
		return o, fmt.Errorf("want exactly one IMAGE, got %d; see ecrscan gate -h", len(positional))
	}
	if o.wait < 0 || o.maxCritical < -1 || o.maxHigh < -1 {
		return o, errors.New("--wait must not be negative, --max-critical and --max-high at least -1 (no limit)")
	}
	img, err := parseImageArg(positional[0])
	if err != nil {
		return o, err
	}
	if img.repository == "" {
		return o, fmt.Errorf("%q names no repository: suppressions are scoped by repository, so give repository@sha256:… or repository:tag", positional[0])
	}
	o.image = img
	return o, nil
}

// evaluateGate runs the gate; every failure becomes a result with its exit
// code and reason, so --json always prints one object.
func evaluateGate(ctx context.Context, o gateOptions, stderr io.Writer) gateResult {
	cfg, err := loadAWSConfig(ctx)
	if err != nil {
		return gateResult{Image: o.image.repository, ExitCode: exitFailed, Reasons: []string{err.Error()}}
	}
	return gateWith(ctx, cfg, o, stderr)
}

// gateWith is the gate with the AWS configuration given (the local run
// passes its own).
func gateWith(ctx context.Context, cfg aws.Config, o gateOptions, stderr io.Writer) gateResult {
	res := gateResult{Image: o.image.repository, FixableOnly: o.fixable}
	fail := func(code int, format string, a ...any) gateResult {
		res.ExitCode, res.Reasons = code, append(res.Reasons, fmt.Sprintf(format, a...))
		return res
	}
	d, err := describeStack(ctx, cfg, o.stack)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	table, err1 := d.Ref(replay.ScansTableID)
	bucket, err2 := d.Ref("ResultsBucket")
	if err := errors.Join(err1, err2); err != nil || table == "" || bucket == "" {
		return fail(exitFailed, "stack %s lacks its scans table or results bucket: is it the scanner's stack?", o.stack)
	}
	digest, err := resolveGateImage(ctx, ecr.NewFromConfig(cfg), o.image)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return fail(exitFailed, "image %s is not in ECR: push it first (%v)", gateImageName(o.image), err)
		}
		return fail(exitFailed, "%v", err)
	}
	res.Digest = digest
	rec, code, why := waitForScan(ctx, dynamodb.NewFromConfig(cfg), table, digest, o.wait, stderr)
	if code != exitOK {
		return fail(code, "%s", why)
	}
	res.ScanID = rec.ScanID
	s3c := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg), quietChecksums)
	sifted, err := siftScan(ctx, s3c, bucket, rec, o.image.repository, suppressNow())
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	return judge(res, o, sifted)
}

func gateImageName(a imageArg) string {
	if a.digest != "" {
		return a.repository + "@" + a.digest.String()
	}
	return a.repository + ":" + a.tag
}

// resolveGateImage finds the image's digest in ECR, confirming a digest
// given outright: a gate on an image ECR does not have must fail, not wait.
func resolveGateImage(ctx context.Context, client replay.ImagesAPI, a imageArg) (domain.Digest, error) {
	if a.digest != "" {
		return replay.ConfirmDigest(ctx, client, a.registryID, a.region, a.repository, a.digest)
	}
	return replay.ResolveTag(ctx, client, a.registryID, a.region, a.repository, a.tag)
}

// waitForScan polls the digest's record until it holds a completed or a
// finally failed scan, or wait runs out (exitNoResult).
func waitForScan(ctx context.Context, client replay.RecordAPI, table string, d domain.Digest, wait time.Duration, stderr io.Writer) (domain.ScanRecord, int, string) {
	deadline := time.Now().Add(wait)
	last := "no scan record yet"
	for announced := false; ; {
		rec, ok, err := replay.GetRecord(ctx, client, table, d)
		switch {
		case err != nil:
			return rec, exitFailed, err.Error()
		case ok && rec.Status == domain.StatusCompleted && rec.Report != nil:
			return rec, exitOK, ""
		case ok && rescanUnderway(rec):
			// A rescan (the sweep's, a backfill's, a manual one) is running
			// or failed: the image's completed scan still stands for it.
			prev := rec.Previous
			fmt.Fprintf(stderr, "ecrscan gate: a %s of %s is %s; judging its previous scan %s (completed %s)\n",
				rec.Cause, d, rec.Status, prev.ScanID, prev.CompletedAt.UTC().Format(time.RFC3339))
			rec.ScanID, rec.Report, rec.Summary, rec.Status = prev.ScanID, prev.Report, prev.Summary, domain.StatusCompleted
			return rec, exitOK, ""
		case ok && rec.Status == domain.StatusFailed && rec.FinalFailure:
			reason := "no reason recorded"
			if rec.Failure != nil {
				reason = string(rec.Failure.Class) + ": " + rec.Failure.Reason
			}
			return rec, exitFailed, "the scan of " + d.String() + " failed (" + reason + "); see ecrscan status " + d.String()
		case ok:
			last = "scan " + string(rec.Status)
		}
		if !time.Now().Add(gatePoll).Before(deadline) {
			return rec, exitNoResult, fmt.Sprintf("no scan result for %s within %s (%s); run the gate again or raise --wait", d, wait, last)
		}
		if !announced {
			fmt.Fprintf(stderr, "ecrscan gate: waiting up to %s for the scan of %s\n", wait, d)
			announced = true
		}
		time.Sleep(gatePoll)
	}
}

// rescanUnderway reports whether rec is a scan no push asked for that has
// not completed (running, retrying or failed) while the completed scan it
// replaces is known: the gate judges that one rather than wait for, or fail
// on, a rescan. A push's scan is always waited for.
func rescanUnderway(rec domain.ScanRecord) bool {
	return rec.Cause.OrPush() != domain.CausePush && rec.Status != domain.StatusCompleted &&
		rec.Previous != nil && rec.Previous.Report != nil
}

// siftScan reads the record's report and the suppressions in force now for
// repo and the digest, and splits the findings. Rules that cannot be read
// are an error: the gate does not pass what it could not check.
func siftScan(ctx context.Context, client *s3.Client, bucket string, rec domain.ScanRecord, repo string, now time.Time) (domain.Sifted, error) {
	store, err := suppressionstore.New(client, bucket)
	if err != nil {
		return domain.Sifted{}, err
	}
	rules, _, err := store.Load(ctx)
	if err != nil {
		return domain.Sifted{}, fmt.Errorf("suppressions not readable, so the gate cannot decide: %w", err)
	}
	reports, err := s3store.NewReports(client, bucket)
	if err != nil {
		return domain.Sifted{}, err
	}
	sifter := domain.NewSifter(rules.Scoped(repo, rec.Digest, now))
	if err := reports.WalkReport(ctx, *rec.Report, sifter.Visitor()); err != nil {
		return domain.Sifted{}, fmt.Errorf("read the report of scan %s: %w", rec.ScanID, err)
	}
	return sifter.Result(), nil
}

// judge applies the limits to what is left after suppressions.
func judge(res gateResult, o gateOptions, s domain.Sifted) gateResult {
	counts := s.Summary.Vulnerabilities
	noun := "vulnerabilities"
	if o.fixable {
		counts, noun = s.Summary.Fixable, "fixable vulnerabilities"
	}
	res.Counted, res.Secrets = &counts, s.Summary.Secrets
	res.Suppressed, res.Listed = &s.Suppressed, s.Listed
	if s.Summary.Partial {
		res.Reasons = append(res.Reasons, "the scan was partial: findings may be missing")
	}
	if o.maxCritical >= 0 && counts.Critical > o.maxCritical {
		res.Reasons = append(res.Reasons, fmt.Sprintf("%d CRITICAL %s, over --max-critical %d", counts.Critical, noun, o.maxCritical))
	}
	if o.maxHigh >= 0 && counts.High > o.maxHigh {
		res.Reasons = append(res.Reasons, fmt.Sprintf("%d HIGH %s, over --max-high %d", counts.High, noun, o.maxHigh))
	}
	if o.noSecrets && s.Summary.Secrets > 0 {
		res.Reasons = append(res.Reasons, fmt.Sprintf("%d secret(s), and --no-secrets", s.Summary.Secrets))
	}
	res.Pass = len(res.Reasons) == 0
	if !res.Pass {
		res.ExitCode = exitFailed
	}
	return res
}

func printGate(w io.Writer, r gateResult) {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	if r.ExitCode == exitNoResult {
		verdict = "NO RESULT"
	}
	fmt.Fprintf(w, "%s %s", verdict, r.Image)
	if r.Digest != "" {
		fmt.Fprintf(w, "@%s", r.Digest)
	}
	fmt.Fprintln(w)
	for _, why := range r.Reasons {
		fmt.Fprintf(w, "  - %s\n", why)
	}
	if r.Counted != nil {
		fmt.Fprintf(w, "  counted: %d critical, %d high, %d medium, %d low; %d secret(s)\n", r.Counted.Critical, r.Counted.High, r.Counted.Medium, r.Counted.Low, r.Secrets)
	}
	if r.Suppressed != nil && r.Suppressed.Total() > 0 {
		fmt.Fprintf(w, "  suppressed (not counted): %d\n", r.Suppressed.Total())
		for _, f := range r.Listed {
			loc := ""
			if f.Location != "" {
				loc = " at " + f.Location
			}
			fmt.Fprintf(w, "    %s %s %s%s: %s (rule %s, until %s)\n", f.Severity, f.Kind, f.ID, loc, f.Reason, f.RuleID, f.Expires)
		}
	}
}

// quietChecksums keeps the SDK from logging, on the CLI's output, that a
// response (moto's, or an object written without a checksum) carries no
// checksum to validate.
func quietChecksums(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }
