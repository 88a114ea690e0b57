package main

import (
	"bytes"
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/securityhubstore"
)

const (
	testDigest  = domain.Digest("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	testDigest2 = domain.Digest("sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752")
	testAccount = "123456789012"
	testRegion  = "eu-west-1"
	testScanID  = "5f2b0c1e9a7d4e3f8b6a1c0d2e4f6a8b"
	testBucket  = "scanner-results-123456789012"
	testProduct = "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
)

var testScannedAt = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func testProductOf(t *testing.T) securityhubstore.Product {
	t.Helper()
	p, err := securityhubstore.ParseProductARN(testProduct)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeReports is a hand-written reportReader serving reports by location.
type fakeReports struct {
	mu      sync.Mutex
	reports map[domain.ReportLocation]*domain.Report
	err     error
}

func (f *fakeReports) GetReport(_ context.Context, loc domain.ReportLocation) (*domain.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	r, ok := f.reports[loc]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return r, nil
}

func (f *fakeReports) put(loc domain.ReportLocation, r *domain.Report) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reports == nil {
		f.reports = map[domain.ReportLocation]*domain.Report{}
	}
	f.reports[loc] = r
}

// fakeHub is a hand-written findingStore that keeps findings in memory the
// way Security Hub does for a finding provider: an import creates or replaces
// a finding by Id, but ignores an update older than the stored finding and
// the Workflow of an existing one, and resets RESOLVED or NOTIFIED to NEW
// when an archived finding becomes active again. Only SetWorkflow changes the
// workflow of an existing finding.
type fakeHub struct {
	mu       sync.Mutex
	findings map[string]securityhubstore.Finding

	imports   [][]securityhubstore.Finding // every Import call, in order
	reads     []string                     // the prefix of every Findings call
	workflows [][]string                   // the IDs of every SetWorkflow call

	findingsErr, importErr, workflowErr error
}

func newFakeHub() *fakeHub { return &fakeHub{findings: map[string]securityhubstore.Finding{}} }

func (h *fakeHub) Findings(_ context.Context, prefix string) ([]securityhubstore.Finding, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads = append(h.reads, prefix)
	if h.findingsErr != nil {
		return nil, h.findingsErr
	}
	var out []securityhubstore.Finding
	for id, f := range h.findings {
		if strings.HasPrefix(id, prefix) {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (h *fakeHub) Import(_ context.Context, findings []securityhubstore.Finding) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.importErr != nil {
		return h.importErr
	}
	for _, f := range findings {
		if err := securityhubstore.Validate(f); err != nil {
			return err
		}
	}
	h.imports = append(h.imports, append([]securityhubstore.Finding(nil), findings...))
	for _, f := range findings {
		old, ok := h.findings[f.ID]
		if ok {
			if f.UpdatedAt.Before(old.UpdatedAt) {
				continue
			}
			f.Workflow = old.Workflow
			if old.RecordState == securityhubstore.RecordStateArchived && f.RecordState == securityhubstore.RecordStateActive &&
				(old.Workflow.Status == securityhubstore.WorkflowResolved || old.Workflow.Status == securityhubstore.WorkflowNotified) {
				f.Workflow.Status = securityhubstore.WorkflowNew
			}
		}
		h.findings[f.ID] = f
	}
	return nil
}

func (h *fakeHub) SetWorkflow(_ context.Context, ids []string, status string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.workflowErr != nil {
		return h.workflowErr
	}
	h.workflows = append(h.workflows, append([]string(nil), ids...))
	for _, id := range ids {
		if f, ok := h.findings[id]; ok {
			f.Workflow.Status = status
			h.findings[id] = f
		}
	}
	return nil
}

// snapshot copies the stored findings, for comparisons.
func (h *fakeHub) snapshot() map[string]securityhubstore.Finding {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]securityhubstore.Finding, len(h.findings))
	for k, v := range h.findings {
		out[k] = v
	}
	return out
}

func (h *fakeHub) get(t *testing.T, id string) securityhubstore.Finding {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.findings[id]
	if !ok {
		var ids []string
		for k := range h.findings {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		t.Fatalf("no finding %s; have %v", id, ids)
	}
	return f
}

func (h *fakeHub) importCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.imports)
}

func mustRef(t *testing.T, repository, tag string) domain.ImageRef {
	t.Helper()
	return mustRefOf(t, testDigest, repository, tag)
}

func mustRefOf(t *testing.T, d domain.Digest, repository, tag string) domain.ImageRef {
	t.Helper()
	r, err := domain.NewImageRef(testAccount, testRegion, repository, string(d), tag)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func locationOf(d domain.Digest, scanID string) domain.ReportLocation {
	return domain.ReportLocation{Bucket: testBucket, Key: "reports/" + d.Hex() + "/" + scanID + ".json.gz"}
}

// testReport has two vulnerabilities (one fixable, one not), characters
// JSON escapes, and a secret (which, as in every report, has no matched
// text).
func testReport() *domain.Report {
	return &domain.Report{
		Digest:          testDigest,
		Platform:        "linux/amd64",
		OS:              "alpine 3.20",
		QScannerVersion: "4.8.0",
		ScanTypes:       []string{"os", "sca", "secret"},
		Vulnerabilities: []domain.Vulnerability{
			{
				QID: "379201", Title: "OpenSSL <Multiple> \"Vulnerabilities\" & more", Severity: domain.SeverityCritical,
				QualysSeverity: 5, CVEs: []string{"CVE-2024-0001", "CVE-2024-0002"}, CVSS3: 9.8, Category: "Alpine",
				Packages: []domain.Package{{Name: "openssl", InstalledVersion: "3.1.0-r0", FixedVersion: "3.1.5-r0", Path: "/lib/apk/db/installed", Layer: "sha256:aa"}},
			},
			{
				QID: "380112", Title: "BusyBox Use-After-Free", Severity: domain.SeverityHigh,
				QualysSeverity: 4, CVEs: []string{"CVE-2023-42363"}, CVSS3: 7.5,
				Packages: []domain.Package{{Name: "busybox", InstalledVersion: "1.36.1-r2"}},
			},
		},
		Secrets: []domain.Secret{
			{RuleID: "aws-access-key-id", Category: "AWS", Title: "AWS Access Key", Severity: domain.SeverityHigh, File: "/app/.env", StartLine: 3, EndLine: 3, Layer: "sha256:bb"},
		},
	}
}

// scanEvent is a ScanCompleted event for a scan of rep, at time at, known
// under refs (the first started the scan).
func scanEvent(rep *domain.Report, scanID string, at time.Time, refs ...domain.ImageRef) events.ScanEvent {
	sum := domain.Summarize(rep)
	loc := locationOf(rep.Digest, scanID)
	return events.ScanEvent{
		SchemaVersion:   events.SchemaVersion,
		DetailType:      events.DetailTypeScanCompleted,
		EventID:         "ev-" + scanID + "-" + at.Format("150405"),
		EventType:       domain.EventScanCompleted,
		Time:            at,
		ScanID:          scanID,
		Digest:          rep.Digest,
		Ref:             refs[0],
		References:      refs,
		Status:          domain.StatusCompleted,
		Summary:         &sum,
		Report:          &loc,
		Platform:        rep.Platform,
		QScannerVersion: rep.QScannerVersion,
		ScannedAt:       at,
	}
}

// referencedEvent is the ImageReferenced event of a later push of newRef:
// refs are the references known before it.
func referencedEvent(rep *domain.Report, at time.Time, newRef domain.ImageRef, refs ...domain.ImageRef) events.ScanEvent {
	ev := scanEvent(rep, testScanID, testScannedAt, append(append([]domain.ImageRef(nil), refs...), newRef)...)
	ev.EventType = domain.EventImageReferenced
	ev.DetailType = events.DetailTypeImageReferenced
	ev.EventID = "ev-referenced-" + at.Format("150405")
	ev.Time = at
	ev.Ref = newRef
	return ev
}

type testEnv struct {
	h       *Handler
	hub     *fakeHub
	reports *fakeReports
	logs    *bytes.Buffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	env := &testEnv{hub: newFakeHub(), reports: &fakeReports{}, logs: &bytes.Buffer{}}
	h, err := NewHandler(env.reports, env.hub, testProductOf(t), slog.New(slog.NewJSONHandler(env.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	env.h = h
	return env
}

// handle stores rep where ev points and handles ev.
func (e *testEnv) handle(t *testing.T, ev events.ScanEvent, rep *domain.Report) error {
	t.Helper()
	e.reports.put(*ev.Report, rep)
	return e.h.Handle(context.Background(), ev)
}

func vulnID(repository, qid string) string {
	return repositoryPrefix(testAccount, testRegion, repository) + "vuln:" + qid
}

func secretID(repository string, s domain.Secret) string {
	return repositoryPrefix(testAccount, testRegion, repository) + "secret:" + secretKey(s)
}
