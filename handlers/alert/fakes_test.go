package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

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

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testConfig() Config {
	return Config{Enabled: true, Policy: domain.DefaultAlertPolicy, ResultsBucket: testkit.Bucket}
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
	r := &testRig{pub: &fakePublisher{}, marks: newFakeMarks(), reports: &fakeReports{report: testkit.ThresholdReport()}, logs: &bytes.Buffer{}}
	h, err := NewHandler(r.pub, r.reports, r.marks, cfg, slog.New(slog.NewJSONHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	return r
}
