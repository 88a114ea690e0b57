package main

import (
	"context"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/snsnotify"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// render writes an alert as the golden files hold it: subject, attributes
// (sorted) and body.
func render(a snsnotify.Alert) string {
	var b strings.Builder
	b.WriteString("Subject: " + a.Subject + "\nAttributes:\n")
	for _, k := range slices.Sorted(maps.Keys(a.Attributes)) {
		b.WriteString("  " + k + "=" + a.Attributes[k] + "\n")
	}
	b.WriteString("\n" + a.Body)
	return b.String()
}

// TestAlertGolden pins what people read: subject, attributes and body of
// each kind of alert. Run with -update after an intended change and review
// the diff.
func TestAlertGolden(t *testing.T) {
	secretsOnly := &domain.Report{
		Digest: testDigest, Platform: "linux/arm64", QScannerVersion: "4.8.0",
		Secrets: []domain.Secret{
			{RuleID: "private-key", Title: "Private Key", Severity: domain.SeverityCritical, File: "/root/.ssh/id_rsa", StartLine: 1},
		},
	}
	tests := []struct {
		name   string
		policy domain.AlertPolicy
		ev     func(t *testing.T) events.ScanEvent
		report *domain.Report
	}{
		{
			name:   "completed",
			policy: domain.DefaultAlertPolicy,
			report: testReport(),
			ev: func(t *testing.T) events.ScanEvent {
				return completedEvent(testReport(), mustRef(t, "team/app", "v1.2.3"), mustRef(t, "team/app", "latest"), mustRef(t, "other/app", "v1.2.3"))
			},
		},
		{
			name:   "referenced-fixable-only",
			policy: domain.AlertPolicy{MinSeverity: domain.SeverityHigh, OnSecrets: true, FixableOnly: true},
			report: testReport(),
			ev: func(t *testing.T) events.ScanEvent {
				return referencedEvent(testReport(), mustRef(t, "payments/api", "2025.03.1"), mustRef(t, "team/app", "v1.2.3"))
			},
		},
		{
			name:   "secrets-only-untagged",
			policy: domain.DefaultAlertPolicy,
			report: secretsOnly,
			ev: func(t *testing.T) events.ScanEvent {
				return completedEvent(secretsOnly, mustRef(t, "team/app", ""))
			},
		},
		{
			name:   "scan-failed",
			policy: domain.DefaultAlertPolicy,
			ev: func(t *testing.T) events.ScanEvent {
				return failedEvent(domain.Failure{Class: domain.FailurePolicyDeny, Reason: "policy \"no-critical\" denied the image", ExitCode: 42}, mustRef(t, "team/app", "v1.2.3"))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Policy = tc.policy
			r := newRig(t, cfg)
			r.reports.report = tc.report
			if err := r.h.Handle(context.Background(), tc.ev(t)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(r.pub.sent) == 0 {
				t.Fatal("no alert sent")
			}
			a := r.pub.sent[0]
			if err := snsnotify.Validate(a); err != nil {
				t.Errorf("SNS would refuse the alert: %v", err)
			}
			got := render(a)
			path := filepath.Join("testdata", tc.name+".golden.txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("alert differs from %s (run go test -update after an intended change):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}
