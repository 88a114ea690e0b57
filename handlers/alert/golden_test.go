package main

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/snsnotify"
)

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
		Digest: testkit.Digest, Platform: "linux/arm64", QScannerVersion: "4.8.0",
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
			report: testkit.ThresholdReport(),
			ev: func(t *testing.T) events.ScanEvent {
				return testkit.CompletedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "team/app", "v1.2.3"), testkit.MustRef(t, "team/app", "latest"), testkit.MustRef(t, "other/app", "v1.2.3"))
			},
		},
		{
			name:   "referenced-fixable-only",
			policy: domain.AlertPolicy{MinSeverity: domain.SeverityHigh, OnSecrets: true, FixableOnly: true},
			report: testkit.ThresholdReport(),
			ev: func(t *testing.T) events.ScanEvent {
				return testkit.ReferencedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "payments/api", "2025.03.1"), testkit.MustRef(t, "team/app", "v1.2.3"))
			},
		},
		{
			name:   "secrets-only-untagged",
			policy: domain.DefaultAlertPolicy,
			report: secretsOnly,
			ev: func(t *testing.T) events.ScanEvent {
				return testkit.CompletedEvent(secretsOnly, testkit.MustRef(t, "team/app", ""))
			},
		},
		{
			name:   "scan-failed",
			policy: domain.DefaultAlertPolicy,
			ev: func(t *testing.T) events.ScanEvent {
				return testkit.FailedEvent(domain.Failure{Class: domain.FailurePolicyDeny, Reason: "policy \"no-critical\" denied the image", ExitCode: 42}, testkit.MustRef(t, "team/app", "v1.2.3"))
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
			testkit.Golden(t, filepath.Join("testdata", tc.name+".golden.txt"), []byte(render(a)))
		})
	}
}
