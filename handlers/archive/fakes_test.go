package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

// fakeReports is a hand-written reportReader serving reports by location.
type fakeReports struct {
	mu      sync.Mutex
	reports map[domain.ReportLocation]*domain.Report
	err     error
	reads   int
}

func (f *fakeReports) GetReport(_ context.Context, loc domain.ReportLocation) (*domain.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	r, ok := f.reports[loc]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return r, nil
}

type put struct {
	key  string
	body []byte
}

// fakeArchive is a hand-written archiver that records every Put in order.
type fakeArchive struct {
	mu   sync.Mutex
	puts []put
	err  error
}

func (f *fakeArchive) Put(_ context.Context, key string, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.puts = append(f.puts, put{key: key, body: append([]byte(nil), body...)})
	return nil
}

func newTestHandler(t *testing.T, reports reportReader, archive archiver) (*Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	h, err := NewHandler(reports, archive, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h, &logs
}

func reportsWith(rep *domain.Report) *fakeReports {
	return &fakeReports{reports: map[domain.ReportLocation]*domain.Report{testkit.ReportAt(testkit.Digest, testkit.ScanID): rep}}
}
