package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// PutReader reads body twice, rewinding it in between as the S3 client does
// to hash it and then send it, and refuses a size the body does not have.
func (f *fakeArchive) PutReader(_ context.Context, key string, body io.ReadSeeker, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return err
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("fake archive: size %d, body %d bytes", size, len(b))
	}
	f.puts = append(f.puts, put{key: key, body: b})
	return nil
}

func newTestHandler(t *testing.T, reports domain.ReportStreamer, archive archiver) (*Handler, *bytes.Buffer) {
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
