package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

// SetWorkflow changes existing findings as BatchUpdateFindings does; an Id
// the hub does not have is an error.
func (h *fakeHub) SetWorkflow(_ context.Context, ids []string, status string, note securityhubstore.Note) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.workflowCalls++
	for _, id := range ids {
		f, ok := h.findings[id]
		if !ok {
			return errors.New("finding " + id + " not found")
		}
		f.Workflow.Status, f.Note = status, &note
		h.findings[id] = f
	}
	return nil
}

// opensslRule suppresses the report's QID 379201 (by its CVE) in team/*
// until until.
func opensslRule(until time.Time) domain.Suppression {
	return domain.Suppression{ID: "sup-openssl", Vulnerability: "CVE-2024-0002", Repositories: []string{"team/*"}, Reason: "TLS server never started",
		Owner: "alice", CreatedAt: testkit.ScannedAt.Add(-time.Hour), ExpiresAt: until}
}

func suppressEnv(t *testing.T, src *testkit.SuppressionSource, now *time.Time) *testEnv {
	env := newTestEnv(t)
	env.h.UseSuppressions(src, func() time.Time { return *now })
	return env
}

func TestSuppressedFindingIsImportedSuppressed(t *testing.T) {
	now := testkit.ScannedAt
	secretRule := domain.Suppression{ID: "sup-key", SecretRule: "aws-access-key-id", Repositories: []string{"team/app"}, Reason: "fixture key", Owner: "bob", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	env := suppressEnv(t, &testkit.SuppressionSource{Rules: domain.Suppressions{Rules: []domain.Suppression{opensslRule(now.Add(24 * time.Hour)), secretRule}}}, &now)
	rep := testkit.Report()
	if err := env.handle(t, testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), rep); err != nil {
		t.Fatal(err)
	}
	f := env.hub.get(t, vulnID("team/app", "379201"))
	if f.Workflow.Status != securityhubstore.WorkflowSuppressed || f.Note == nil || f.Note.UpdatedBy != noteAuthor ||
		!strings.Contains(f.Note.Text, "by rule sup-openssl (owner alice): TLS server never started") {
		t.Fatalf("suppressed finding: workflow %s note %+v", f.Workflow.Status, f.Note)
	}
	if s := env.hub.get(t, secretID("team/app", rep.Secrets[0])); s.Workflow.Status != securityhubstore.WorkflowSuppressed {
		t.Errorf("suppressed secret: workflow %s", s.Workflow.Status)
	}
	if o := env.hub.get(t, vulnID("team/app", "380112")); o.Workflow.Status != securityhubstore.WorkflowNew || o.Note != nil {
		t.Errorf("other finding: workflow %s note %+v, want NEW without a note", o.Workflow.Status, o.Note)
	}
	if env.hub.workflowCalls != 0 {
		t.Errorf("%d BatchUpdateFindings for new findings, want none (the import sets them)", env.hub.workflowCalls)
	}
	if !strings.Contains(env.logs.String(), `"suppressed":2`) {
		t.Errorf("log does not count the suppressed findings:\n%s", env.logs)
	}
}

// An existing finding is suppressed through BatchUpdateFindings (an import
// cannot change its workflow), comes back NEW when the rule expires, and a
// finding an analyst suppressed is left as it is.
func TestSuppressionOfExistingFindingsAndExpiry(t *testing.T) {
	now := testkit.ScannedAt
	src := &testkit.SuppressionSource{}
	env := suppressEnv(t, src, &now)
	rep := testkit.Report()
	scan := func(id string, at time.Time) {
		t.Helper()
		now = at
		if err := env.handle(t, testkit.CompletedEventOf(rep, id, at, testkit.MustRef(t, "team/app", "v1")), rep); err != nil {
			t.Fatal(err)
		}
	}
	scan("scan1", testkit.ScannedAt)
	analyst := vulnID("team/app", "380112")
	if err := env.hub.SetWorkflow(context.Background(), []string{analyst}, securityhubstore.WorkflowSuppressed, securityhubstore.Note{Text: "risk accepted in ticket SEC-1", UpdatedBy: "analyst"}); err != nil {
		t.Fatal(err)
	}

	src.Rules = domain.Suppressions{Rules: []domain.Suppression{opensslRule(testkit.ScannedAt.Add(48 * time.Hour))}}
	scan("scan2", testkit.ScannedAt.Add(24*time.Hour))
	if f := env.hub.get(t, vulnID("team/app", "379201")); f.Workflow.Status != securityhubstore.WorkflowSuppressed || !strings.Contains(f.Note.Text, "TLS server never started") {
		t.Fatalf("after the rule: workflow %s note %+v", f.Workflow.Status, f.Note)
	}

	scan("scan3", testkit.ScannedAt.Add(72*time.Hour)) // the rule expired at +48h
	if f := env.hub.get(t, vulnID("team/app", "379201")); f.Workflow.Status != securityhubstore.WorkflowNew || f.Note.Text != noteLapsed {
		t.Fatalf("after expiry: workflow %s note %+v, want NEW with the lapse note", f.Workflow.Status, f.Note)
	}
	if a := env.hub.get(t, analyst); a.Workflow.Status != securityhubstore.WorkflowSuppressed || a.Note.UpdatedBy != "analyst" {
		t.Errorf("the analyst's suppression was changed: %s %+v", a.Workflow.Status, a.Note)
	}
}

// Rules that cannot be read: the event is retried (a plain error, so SQS
// redelivers it and the DLQ takes it in the end), nothing is imported.
func TestSuppressionsUnreadableRetries(t *testing.T) {
	now := testkit.ScannedAt
	env := suppressEnv(t, &testkit.SuppressionSource{Err: errors.New("AccessDenied")}, &now)
	rep := testkit.Report()
	err := env.handle(t, testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), rep)
	if err == nil || consume.IsPermanent(err) || !strings.Contains(err.Error(), "read suppressions") {
		t.Fatalf("err = %v, want a retryable error naming the suppressions", err)
	}
	if len(env.hub.imports) != 0 {
		t.Errorf("%d imports without the rules", len(env.hub.imports))
	}
}
