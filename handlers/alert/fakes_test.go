package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/snsnotify"
)

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

// fakeReports is a hand-written domain.ReportStreamer.
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

// WalkReport walks the report GetReport would return, with its errors.
func (f *fakeReports) WalkReport(ctx context.Context, loc domain.ReportLocation, v domain.ReportVisitor) error {
	r, err := f.GetReport(ctx, loc)
	if err != nil {
		return err
	}
	return r.Walk(v)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testConfig() Config {
	return Config{Enabled: true, Policy: domain.DefaultAlertPolicy, ResultsBucket: testkit.Bucket}
}

type testRig struct {
	h       *Handler
	pub     *fakePublisher
	marks   *testkit.MemoryIdempotencyStore
	reports *fakeReports
	logs    *bytes.Buffer
}

func newRig(t *testing.T, cfg Config) *testRig {
	t.Helper()
	r := &testRig{pub: &fakePublisher{}, marks: testkit.NewMemoryIdempotencyStore(nil), reports: &fakeReports{report: testkit.ThresholdReport()}, logs: &bytes.Buffer{}}
	h, err := NewHandler(r.pub, r.reports, r.marks, cfg, slog.New(slog.NewJSONHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	return r
}
