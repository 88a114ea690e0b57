package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/domain"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/s3store"
)

// gateStack is a deployed stack with its results bucket, for gate tests.
type gateStack struct {
	*cliStack
	bucket string
}

func deployGateStack(t *testing.T) gateStack {
	t.Helper()
	s := deployCLIStack(t)
	d, err := describeStack(context.Background(), s.cfg, s.st.Name)
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := d.Ref("ResultsBucket")
	if err != nil {
		t.Fatal(err)
	}
	old := gatePoll
	gatePoll = 100 * time.Millisecond
	t.Cleanup(func() { gatePoll = old })
	return gateStack{cliStack: s, bucket: bucket}
}

// pushScanned records ref's image in ECR and a completed scan of it whose
// report (in the stack's bucket) has one critical CVE-2024-3094, one high
// and one secret.
func (s gateStack) pushScanned(t *testing.T, ref domain.ImageRef) {
	t.Helper()
	ctx := context.Background()
	if err := local.RecordImage(ctx, ecr.NewFromConfig(s.cfg), ref); err != nil {
		t.Fatal(err)
	}
	report := &domain.Report{Digest: ref.Digest,
		Vulnerabilities: []domain.Vulnerability{
			{QID: "100", Severity: domain.SeverityCritical, CVEs: []string{"CVE-2024-3094"}, Packages: []domain.Package{{Name: "xz", FixedVersion: "5.6.2"}}},
			{QID: "200", Severity: domain.SeverityHigh, Packages: []domain.Package{{Name: "openssl"}}},
		},
		Secrets: []domain.Secret{{RuleID: "aws-access-key-id", Severity: domain.SeverityHigh, File: "/app/.env", StartLine: 2}},
	}
	reports, err := s3store.NewReports(s3.NewFromConfig(s.cfg, awsconfig.S3Options(s.cfg)), s.bucket)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := reports.PutReport(ctx, "scan-1", report)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := s.scans.Update(ctx, ref.Digest, func(sc *domain.Scan) error {
		if _, err := sc.Claim(domain.Claim{Ref: ref, Owner: "scan-1", Now: now, LeaseUntil: now.Add(15 * time.Minute)}); err != nil {
			return err
		}
		return sc.Complete("scan-1", domain.ScanResult{Summary: domain.Summarize(report), Report: loc}, now, 7*24*time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
}

func gateJSON(t *testing.T, args ...string) (int, gateResult, string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"gate", "--json"}, args...)...)
	var res gateResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("gate --json printed %q (stderr %q): %v", stdout, stderr, err)
	}
	if res.ExitCode != code {
		t.Fatalf("exitCode %d in JSON, process exit %d", res.ExitCode, code)
	}
	return code, res, stderr
}

// Every exit code of the gate against moto: 1 over a limit, 0 after a
// suppression of the finding, 1 for an image not in ECR, 3 for an image
// without a scan result within the wait, 2 for bad usage.
func TestGateExitCodes(t *testing.T) {
	s := deployGateStack(t)
	setNow(t, time.Now().UTC())
	ref := newRef(t, newDigest(t), "team-a/api", "v1")
	s.pushScanned(t, ref)
	stackArg := []string{"--stack", s.st.Name}

	code, res, _ := gateJSON(t, append(stackArg, "team-a/api:v1", "--wait", "1s")...)
	if code != exitFailed || res.Pass || res.Digest != ref.Digest || !strings.Contains(strings.Join(res.Reasons, ";"), "1 CRITICAL vulnerabilities, over --max-critical 0") {
		t.Fatalf("before suppression: exit %d, %+v", code, res)
	}
	if code, _, _ = gateJSON(t, append(stackArg, "team-a/api:v1", "--max-critical", "1", "--no-secrets")...); code != exitFailed {
		t.Fatalf("--no-secrets with a secret: exit %d, want 1", code)
	}

	if c, _, stderr := runCLI(t, "suppress", "add", "--stack", s.st.Name, "--vulnerability", "CVE-2024-3094", "--repository", "team-a/*",
		"--reason", "xz is never loaded", "--owner", "alice", "--expires", "7d"); c != exitOK {
		t.Fatalf("suppress add: %s", stderr)
	}
	code, res, _ = gateJSON(t, append(stackArg, "team-a/api@"+ref.Digest.String())...)
	if code != exitOK || !res.Pass || res.Suppressed == nil || res.Suppressed.Critical != 1 || len(res.Listed) != 1 || res.Listed[0].Reason != "xz is never loaded" {
		t.Fatalf("after suppression: exit %d, %+v", code, res)
	}
	if code, _, _ = gateJSON(t, append(stackArg, "team-a/api:v1", "--max-high", "0")...); code != exitFailed {
		t.Fatalf("--max-high 0 with an unsuppressed high: exit %d, want 1", code)
	}
	if code, _, _ = gateJSON(t, append(stackArg, "team-a/api:v1", "--max-high", "0", "--fixable-only")...); code != exitOK {
		t.Fatalf("--fixable-only leaves the unfixable high out: exit %d, want 0", code)
	}
	// The rule has expired a week on: the finding counts again.
	setNow(t, time.Now().UTC().Add(8*24*time.Hour))
	if code, res, _ = gateJSON(t, append(stackArg, "team-a/api:v1")...); code != exitFailed || res.Suppressed.Total() != 0 {
		t.Fatalf("after expiry: exit %d, %+v; want 1 with nothing suppressed", code, res)
	}

	code, res, _ = gateJSON(t, append(stackArg, "team-a/api:nope", "--wait", "1s")...)
	if code != exitFailed || !strings.Contains(res.Reasons[0], "is not in ECR") {
		t.Fatalf("image not in ECR: exit %d, %+v; want 1 saying so", code, res)
	}

	unscanned := newRef(t, newDigest(t), "team-a/api", "v2")
	if err := local.RecordImage(context.Background(), ecr.NewFromConfig(s.cfg), unscanned); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, res, stderr := gateJSON(t, append(stackArg, "team-a/api:v2", "--wait", "500ms")...)
	if code != exitNoResult || !strings.Contains(res.Reasons[0], "no scan result") || !strings.Contains(stderr, "waiting up to 500ms") || time.Since(start) > 20*time.Second {
		t.Fatalf("no result: exit %d, %+v, %q", code, res, stderr)
	}

	failed := newRef(t, newDigest(t), "team-a/api", "v3")
	s.put(t, true, time.Now().UTC(), failed)
	if err := local.RecordImage(context.Background(), ecr.NewFromConfig(s.cfg), failed); err != nil {
		t.Fatal(err)
	}
	if code, res, _ = gateJSON(t, append(stackArg, "team-a/api:v3")...); code != exitFailed || !strings.Contains(res.Reasons[0], "failed (registry_auth: pull denied)") {
		t.Fatalf("failed scan: exit %d, %+v; want 1 with the failure", code, res)
	}

	for _, args := range [][]string{{"gate"}, {"gate", "a:b", "c:d"}, {"gate", "sha256:" + strings.Repeat("a", 64)}, {"gate", "app:v1", "--wait", "-1s"}, {"gate", "app:v1", "--bogus"}} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}

// While a rescan no push asked for runs, or after it failed, the gate
// judges the image's completed scan that the rescan replaces instead of
// waiting (exit 3) or failing on the rescan; a push's scan is waited for.
func TestGateJudgesThePreviousScanDuringARescan(t *testing.T) {
	s := deployGateStack(t)
	setNow(t, time.Now().UTC())
	ref := newRef(t, newDigest(t), "team-b/api", "v1")
	s.pushScanned(t, ref)
	ctx := context.Background()
	now := time.Now().UTC()
	rescan := domain.Claim{Ref: ref, Owner: "rescan-1", Now: now, LeaseUntil: now.Add(15 * time.Minute),
		Origin: domain.Origin{Cause: domain.CauseRescan, RequestedBy: "sweep", NotBefore: now}}
	if err := s.scans.Update(ctx, ref.Digest, func(sc *domain.Scan) error {
		d, err := sc.Claim(rescan)
		if err == nil && d != domain.DecideScan {
			t.Fatalf("the forced rescan's claim decided %v, want a scan", d)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	stackArg := []string{"--stack", s.st.Name}
	code, res, stderr := gateJSON(t, append(stackArg, "team-b/api:v1", "--max-critical", "1", "--max-high", "1", "--wait", "500ms")...)
	if code != exitOK || !res.Pass || !strings.Contains(stderr, "judging its previous scan") {
		t.Fatalf("during the rescan: exit %d, %+v, %q; want the previous scan judged (pass)", code, res, stderr)
	}
	if err := s.scans.Update(ctx, ref.Digest, func(sc *domain.Scan) error {
		_, err := sc.Fail("rescan-1", domain.Failure{Class: domain.FailureQualysAuth, Reason: "token refused"}, nil, 1, now.Add(time.Minute), 7*24*time.Hour)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if code, res, _ = gateJSON(t, append(stackArg, "team-b/api:v1")...); code != exitFailed || !strings.Contains(strings.Join(res.Reasons, ";"), "1 CRITICAL vulnerabilities, over --max-critical 0") {
		t.Fatalf("after the rescan failed: exit %d, %+v; want the previous scan's critical judged", code, res)
	}
}
