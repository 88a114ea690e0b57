package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/snsnotify"
)

// rescanEvent is a rescan of the threshold report whose difference from the
// previous scan is diff.
func rescanEvent(t *testing.T, diff domain.ScanDiff) events.ScanEvent {
	ev := testkit.CompletedEventOf(testkit.ThresholdReport(), "6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d", testkit.ScannedAt.Add(7*24*time.Hour), testkit.MustRef(t, "team/app", "v1.2.3"))
	ev.Cause = domain.CauseRescan
	diff.PreviousScanID, diff.PreviousCompletedAt = testkit.ScanID, testkit.ScannedAt
	ev.Changes = &diff
	return ev
}

// A rescan alerts only when something at or above the threshold is new,
// and says what is new.
func TestRescanAlertsOnlyOnWhatIsNew(t *testing.T) {
	t.Run("nothing new at the threshold", func(t *testing.T) {
		r := newRig(t, testConfig())
		r.reports.report = testkit.ThresholdReport()
		ev := rescanEvent(t, domain.ScanDiff{NewVulnerabilities: domain.Counts{Medium: 1}, FixedVuln: domain.Counts{Low: 2}, NewQIDs: []domain.DiffID{{ID: "376543", Severity: domain.SeverityMedium}}})
		if err := r.h.Handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if len(r.pub.sent) != 0 {
			t.Fatalf("a rescan with nothing new at or above HIGH alerted:\n%s", r.pub.sent[0].Body)
		}
	})
	t.Run("a new critical", func(t *testing.T) {
		r := newRig(t, testConfig())
		r.reports.report = testkit.ThresholdReport()
		ev := rescanEvent(t, domain.ScanDiff{
			NewVulnerabilities: domain.Counts{Critical: 1}, NewFixable: domain.Counts{Critical: 1}, FixedVuln: domain.Counts{Low: 2},
			NewQIDs: []domain.DiffID{{ID: "379201", Severity: domain.SeverityCritical}},
		})
		if err := r.h.Handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if len(r.pub.sent) != 1 {
			t.Fatalf("%d alerts, want 1", len(r.pub.sent))
		}
		a := r.pub.sent[0]
		if err := snsnotify.Validate(a); err != nil {
			t.Errorf("SNS would refuse the alert: %v", err)
		}
		body := a.Body
		for _, want := range []string{"CRITICAL: 1 vulnerability at or above HIGH", "New since the last scan (" + testkit.ScanID, "New QIDs:     CRITICAL 379201", "Fixed:          2 LOW"} {
			if !strings.Contains(strings.Join(strings.Fields(body), " "), strings.Join(strings.Fields(want), " ")) {
				t.Errorf("alert does not say %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "380112") {
			t.Errorf("the rescan's alert lists a HIGH that is not new:\n%s", body)
		}
		testkit.Golden(t, filepath.Join("testdata", "rescan-new-critical.golden.txt"), []byte(render(a)))
	})
}

// A rescan's alert about a new secret lists that secret, not the ones the
// previous scan already had.
func TestRescanAlertListsOnlyNewSecrets(t *testing.T) {
	r := newRig(t, testConfig())
	r.reports.report = testkit.ThresholdReport()
	var fresh domain.Secret
	for _, s := range testkit.ThresholdReport().Secrets {
		if s.RuleID == "aws-access-key-id" {
			fresh = s
		}
	}
	ev := rescanEvent(t, domain.ScanDiff{NewSecrets: 1, NewSecretSeverity: domain.Counts{High: 1}, NewSecretRules: []domain.DiffID{{ID: domain.SecretDiffID(fresh), Severity: domain.SeverityHigh}}})
	if err := r.h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(r.pub.sent) != 1 {
		t.Fatalf("%d alerts, want 1", len(r.pub.sent))
	}
	body := r.pub.sent[0].Body
	if !strings.Contains(body, "1. HIGH  aws-access-key-id") || strings.Contains(body, "generic-api-key") || !strings.Contains(body, "1 secret found") {
		t.Errorf("the alert does not list just the new secret:\n%s", body)
	}
}

// A suppression that expires between two scans brings its finding back:
// the rescan after the expiry alerts on it as on a new one and says which
// rule expired, while a rule still in force, or one that had already
// expired when the previous scan was judged, alerts on nothing new.
func TestRescanAlertsOnWhatAnExpiredSuppressionHid(t *testing.T) {
	rescanAt := testkit.ScannedAt.Add(7 * 24 * time.Hour)
	nothingNew := domain.ScanDiff{NewVulnerabilities: domain.Counts{Medium: 1}, NewQIDs: []domain.DiffID{{ID: "376543", Severity: domain.SeverityMedium}}}
	for _, tt := range []struct {
		name    string
		expires time.Time
		alerts  bool
	}{
		{"expired since the previous scan", testkit.ScannedAt.Add(3 * 24 * time.Hour), true},
		{"still in force", rescanAt.Add(24 * time.Hour), false},
		{"expired before the previous scan", testkit.ScannedAt.Add(-time.Hour), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rule := suppression("sup-openssl", func(s *domain.Suppression) {
				s.Vulnerability, s.Reason = "CVE-2024-0002", "libssl is linked but the TLS server is never started"
				s.CreatedAt, s.ExpiresAt = testkit.ScannedAt.Add(-48*time.Hour), tt.expires
			})
			r := newRig(t, testConfig())
			r.h.UseSuppressions(&testkit.SuppressionSource{Rules: domain.Suppressions{Rules: []domain.Suppression{rule}}}, func() time.Time { return rescanAt })
			r.reports.report = testkit.ThresholdReport()
			if err := r.h.Handle(context.Background(), rescanEvent(t, nothingNew)); err != nil {
				t.Fatal(err)
			}
			if !tt.alerts {
				if len(r.pub.sent) != 0 {
					t.Fatalf("alerted although nothing at the threshold is new or back:\n%s", r.pub.sent[0].Body)
				}
				return
			}
			if len(r.pub.sent) != 1 {
				t.Fatalf("%d alerts, want 1 for the finding whose suppression expired", len(r.pub.sent))
			}
			body := strings.Join(strings.Fields(r.pub.sent[0].Body), " ")
			for _, want := range []string{"Back: 1 CRITICAL", "CRITICAL QID 379201 (rule sup-openssl expired", "CRITICAL: 1 vulnerability at or above HIGH"} {
				if !strings.Contains(body, want) {
					t.Errorf("alert does not say %q:\n%s", want, r.pub.sent[0].Body)
				}
			}
		})
	}
}

// A rescan's new finding that a rule in force suppresses is accepted, not
// new to anyone: with nothing else new at the threshold, no alert, even
// though the image still has an unsuppressed finding at the threshold.
func TestRescanDoesNotAlertOnANewFindingASuppressionCovers(t *testing.T) {
	rescanAt := testkit.ScannedAt.Add(7 * 24 * time.Hour)
	rule := suppression("sup-openssl", func(s *domain.Suppression) {
		s.Vulnerability, s.Reason = "CVE-2024-0002", "libssl is linked but the TLS server is never started"
		s.CreatedAt, s.ExpiresAt = testkit.ScannedAt, rescanAt.Add(24*time.Hour)
	})
	newCritical := domain.ScanDiff{
		NewVulnerabilities: domain.Counts{Critical: 1}, NewFixable: domain.Counts{Critical: 1},
		NewQIDs: []domain.DiffID{{ID: "379201", Severity: domain.SeverityCritical}},
	}
	r := newRig(t, testConfig())
	r.h.UseSuppressions(&testkit.SuppressionSource{Rules: domain.Suppressions{Rules: []domain.Suppression{rule}}}, func() time.Time { return rescanAt })
	r.reports.report = testkit.ThresholdReport() // also holds an unsuppressed HIGH, seen before
	if err := r.h.Handle(context.Background(), rescanEvent(t, newCritical)); err != nil {
		t.Fatal(err)
	}
	if len(r.pub.sent) != 0 {
		t.Fatalf("alerted on a new finding a rule in force suppresses:\n%s", r.pub.sent[0].Body)
	}

	// Without the rule the same rescan alerts on the new critical.
	r = newRig(t, testConfig())
	r.reports.report = testkit.ThresholdReport()
	if err := r.h.Handle(context.Background(), rescanEvent(t, newCritical)); err != nil {
		t.Fatal(err)
	}
	if len(r.pub.sent) != 1 {
		t.Fatalf("%d alerts without the rule, want 1", len(r.pub.sent))
	}
}
