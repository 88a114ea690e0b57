package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/testkit"
)

// The labels count what a rule in force suppresses apart: team/app (in the
// rule's scope) shows the critical as suppressed, team/mirror (outside it)
// as it is; once the rule has expired, team/app counts it again.
func TestTagsCountSuppressedApart(t *testing.T) {
	ev := scanEvent(t, domain.EventScanCompleted, digestX, t0, "team/app:v1", "other/mirror:v1")
	rep := &domain.Report{Digest: digestX, Vulnerabilities: []domain.Vulnerability{
		{QID: "1", Severity: domain.SeverityCritical, CVEs: []string{"CVE-2024-3094"}},
		{QID: "2", Severity: domain.SeverityHigh}, {QID: "3", Severity: domain.SeverityHigh},
	}}
	reports := testkit.NewMemoryReportStore()
	reports.Put(*ev.Report, rep)
	rule := domain.Suppression{ID: "s1", Vulnerability: "CVE-2024-3094", Repositories: []string{"team/*"}, Reason: "r", Owner: "o", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, tc := range []struct {
		name         string
		now          time.Time
		appCritical  int
		appSuppresed int
	}{
		{"rule in force", t0, 0, 1},
		{"rule expired", t0.Add(2 * time.Hour), 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, tagger, _ := newTestHandler(t)
			h.UseSuppressions(&testkit.SuppressionSource{Rules: domain.Suppressions{Rules: []domain.Suppression{rule}}}, reports, func() time.Time { return tc.now })
			if err := h.Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			app, mirror := tagger.summaries["team/app"], tagger.summaries["other/mirror"]
			if app.Summary.Vulnerabilities.Critical != tc.appCritical || app.Suppressed != tc.appSuppresed || app.Labels()["qualys:suppressed"] != strconv.Itoa(tc.appSuppresed) {
				t.Errorf("team/app: critical %d suppressed %d labels %v", app.Summary.Vulnerabilities.Critical, app.Suppressed, app.Labels())
			}
			if mirror.Summary.Vulnerabilities.Critical != 1 || mirror.Suppressed != 0 {
				t.Errorf("other/mirror (out of scope): critical %d suppressed %d", mirror.Summary.Vulnerabilities.Critical, mirror.Suppressed)
			}
		})
	}
}

// Unreadable rules, or an unreadable report when a rule applies, are
// retried rather than labelled as if nothing were suppressed.
func TestTagsSuppressionErrorsAreRetried(t *testing.T) {
	ev := scanEvent(t, domain.EventScanCompleted, digestX, t0, "team/app:v1")
	rule := domain.Suppression{ID: "s1", Vulnerability: "1", Repositories: []string{"team/*"}, Reason: "r", Owner: "o", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for name, src := range map[string]*testkit.SuppressionSource{
		"rules unreadable":  {Err: errors.New("AccessDenied")},
		"report unreadable": {Rules: domain.Suppressions{Rules: []domain.Suppression{rule}}},
	} {
		t.Run(name, func(t *testing.T) {
			h, tagger, _ := newTestHandler(t)
			h.UseSuppressions(src, testkit.NewMemoryReportStore(), func() time.Time { return t0 })
			err := h.Handle(context.Background(), ev)
			if err == nil || consume.IsPermanent(err) || !strings.Contains(err.Error(), "suppressions") {
				t.Fatalf("err = %v, want a retryable error about the suppressions", err)
			}
			if len(tagger.written) != 0 {
				t.Errorf("tagged %v without the suppressions", tagger.written)
			}
		})
	}
}
