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

func newTestHandler(t *testing.T, reports domain.ReportReader, archive archiver) (*Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	h, err := NewHandler(reports, archive, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h, &logs
}

// unreadableReports is a report store whose every read fails with err.
func unreadableReports(err error) *testkit.MemoryReportStore {
	s := testkit.NewMemoryReportStore()
	s.FailGet(err)
	return s
}
