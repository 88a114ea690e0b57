package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/snsnotify"
)

const (
	testDigest  = domain.Digest("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	testAccount = "123456789012"
	testRegion  = "eu-west-1"
	testScanID  = "5f2b0c1e9a7d4e3f8b6a1c0d2e4f6a8b"
	testBucket  = "scanner-results-123456789012"
)

var testScannedAt = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// fakePublisher is a hand-written publisher recording what it sent. errs
// are returned by successive calls (nil once used up).
type fakePublisher struct {
	mu     sync.Mutex
	sent   []snsnotify.Alert
	calls  int
	errs   []error
	failOn map[string]error // by repository attribute
}

func (f *fakePublisher) Publish(_ context.Context, a snsnotify.Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err := f.failOn[a.Attributes[AttrRepository]]; err != nil {
		return err
	}
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return err
		}
	}
	f.sent = append(f.sent, a)
	return nil
}

// fakeMarks is a hand-written domain.IdempotencyStore that keeps markers in
// memory (leases never expire) and logs every call.
type fakeMarks struct {
	mu       sync.Mutex
	state    map[string]string // key → "in_progress" | "done"
	calls    []string
	startErr error
}

var _ domain.IdempotencyStore = (*fakeMarks)(nil)

func newFakeMarks() *fakeMarks { return &fakeMarks{state: map[string]string{}} }

func (f *fakeMarks) Start(_ context.Context, key string, lease time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "start "+key)
	if lease <= 0 {
		panic("non-positive lease")
	}
	if f.startErr != nil {
		return f.startErr
	}
	switch f.state[key] {
	case "done":
		return domain.ErrAlreadyDone
	case "in_progress":
		return domain.ErrInProgress
	}
	f.state[key] = "in_progress"
	return nil
}

func (f *fakeMarks) Finish(_ context.Context, key string, retention time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "finish "+key)
	if retention <= 0 {
		panic("non-positive retention")
	}
	f.state[key] = "done"
	return nil
}

func (f *fakeMarks) Abandon(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "abandon "+key)
	if f.state[key] == "in_progress" {
		delete(f.state, key)
	}
	return nil
}

// fakeReports is a hand-written reportReader.
type fakeReports struct {
	mu     sync.Mutex
	report *domain.Report
	err    error
	reads  int
}

func (f *fakeReports) GetReport(_ context.Context, _ domain.ReportLocation) (*domain.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	if f.report == nil {
		return nil, domain.ErrNotFound
	}
	return f.report, nil
}

func mustRef(t testing.TB, repository, tag string) domain.ImageRef {
	t.Helper()
	r, err := domain.NewImageRef(testAccount, testRegion, repository, string(testDigest), tag)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testReport has a critical fixable and a high unfixable vulnerability, a
// medium one, and a secret.
func testReport() *domain.Report {
	return &domain.Report{
		Digest:          testDigest,
		Platform:        "linux/amd64",
		QScannerVersion: "4.8.0",
		Vulnerabilities: []domain.Vulnerability{
			{
				QID: "379201", Title: "OpenSSL Multiple Vulnerabilities (ALPINE-14-2024-0001)", Severity: domain.SeverityCritical,
				CVEs: []string{"CVE-2024-0001", "CVE-2024-0002"}, CVSS3: 9.8,
				Packages: []domain.Package{{Name: "openssl", InstalledVersion: "3.1.0-r0", FixedVersion: "3.1.5-r0"}, {Name: "libssl3", InstalledVersion: "3.1.0-r0", FixedVersion: "3.1.5-r0"}},
			},
			{
				QID: "380112", Title: "BusyBox Use-After-Free", Severity: domain.SeverityHigh,
				CVEs: []string{"CVE-2023-42363"}, CVSS3: 7.5,
				Packages: []domain.Package{{Name: "busybox", InstalledVersion: "1.36.1-r2"}},
			},
			{
				QID: "376543", Title: "curl Cookie Injection", Severity: domain.SeverityMedium, CVSS3: 5.3,
				Packages: []domain.Package{{Name: "curl", InstalledVersion: "8.5.0-r0", FixedVersion: "8.7.1-r0"}},
			},
		},
		Secrets: []domain.Secret{
			{RuleID: "generic-api-key", Title: "Generic API Key", Severity: domain.SeverityMedium, File: "/etc/app/config.yaml", StartLine: 12},
			{RuleID: "aws-access-key-id", Category: "AWS", Title: "AWS Access Key", Severity: domain.SeverityHigh, File: "/app/.env", StartLine: 3, EndLine: 3},
		},
	}
}

func completedEvent(rep *domain.Report, refs ...domain.ImageRef) events.ScanEvent {
	sum := domain.Summarize(rep)
	return events.ScanEvent{
		SchemaVersion:   events.SchemaVersion,
		DetailType:      events.DetailTypeScanCompleted,
		EventID:         "0c1d2e3f405162738495a6b7c8d9eaf0",
		EventType:       domain.EventScanCompleted,
		Time:            testScannedAt,
		ScanID:          testScanID,
		Digest:          testDigest,
		Ref:             refs[0],
		References:      refs,
		Status:          domain.StatusCompleted,
		Summary:         &sum,
		Report:          &domain.ReportLocation{Bucket: testBucket, Key: "reports/" + testDigest.Hex() + "/" + testScanID + ".json.gz"},
		Platform:        rep.Platform,
		QScannerVersion: rep.QScannerVersion,
		ScannedAt:       testScannedAt,
	}
}

// referencedEvent is the ImageReferenced event of a later push of newRef;
// refs are the references known before it.
func referencedEvent(rep *domain.Report, newRef domain.ImageRef, refs ...domain.ImageRef) events.ScanEvent {
	ev := completedEvent(rep, append(append([]domain.ImageRef(nil), refs...), newRef)...)
	ev.EventType = domain.EventImageReferenced
	ev.DetailType = events.DetailTypeImageReferenced
	ev.EventID = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	ev.Time = testScannedAt.Add(72 * time.Hour)
	ev.Ref = newRef
	return ev
}

func failedEvent(f domain.Failure, refs ...domain.ImageRef) events.ScanEvent {
	return events.ScanEvent{
		SchemaVersion: events.SchemaVersion,
		DetailType:    events.DetailTypeScanFailed,
		EventID:       "aa1d2e3f405162738495a6b7c8d9eaf0",
		EventType:     domain.EventScanFailed,
		Time:          testScannedAt,
		ScanID:        testScanID,
		Digest:        testDigest,
		Ref:           refs[0],
		References:    refs,
		Status:        domain.StatusFailed,
		Failure:       &f,
		ScannedAt:     testScannedAt,
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testConfig() Config {
	return Config{Enabled: true, Policy: domain.DefaultAlertPolicy, ResultsBucket: testBucket}
}

type testRig struct {
	h       *Handler
	pub     *fakePublisher
	marks   *fakeMarks
	reports *fakeReports
	logs    *bytes.Buffer
}

func newRig(t *testing.T, cfg Config) *testRig {
	t.Helper()
	r := &testRig{pub: &fakePublisher{}, marks: newFakeMarks(), reports: &fakeReports{report: testReport()}, logs: &bytes.Buffer{}}
	h, err := NewHandler(r.pub, r.reports, r.marks, cfg, slog.New(slog.NewJSONHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	return r
}
