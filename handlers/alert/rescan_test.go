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
