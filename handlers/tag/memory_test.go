package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/s3store"
)

// peakHeapOf tags the image of rep's scan from its event and returns the
// peak heap while the handler ran. The handler needs only the event's
// summary: the report, stored as the scan function stores it, is there to
// read but is never read.
func peakHeapOf(tb testing.TB, rep *domain.Report) (uint64, error) {
	tb.Helper()
	objects := testkit.NewMemoryObjects()
	reports, err := s3store.NewReports(objects, testkit.Bucket)
	if err != nil {
		tb.Fatal(err)
	}
	ev := testkit.StoredReport(tb, reports, rep, testkit.MustRef(tb, "team/app", "v1"))
	rep = nil // only the compressed report stays, as in the function
	tagger, attacher := newFakeTagger(), newFakeAttacher()
	h, err := NewHandler(tagger, attacher, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	var herr error
	peak := testkit.PeakHeap(func() { herr = h.Handle(context.Background(), ev) })
	if herr != nil {
		return 0, herr
	}
	if len(tagger.written) != 1 {
		tb.Fatalf("%d repositories tagged, want 1", len(tagger.written))
	}
	return peak, nil
}

// BenchmarkTagMemory reports the tag function's peak heap on a
// 100,000-finding report next to its memory setting.
func BenchmarkTagMemory(b *testing.B) { testkit.BenchPeakHeap(b, "tag", peakHeapOf) }

// TestTagLargeReportFitsHalfMemory: a 100,000-finding report is handled
// within half the function's memory.
func TestTagLargeReportFitsHalfMemory(t *testing.T) {
	testkit.CheckReportFitsHalfMemory(t, "tag", peakHeapOf, testkit.Large)
}

// TestTagHostileReportFitsHalfMemory: so is a hostile 180,000-finding one.
func TestTagHostileReportFitsHalfMemory(t *testing.T) {
	testkit.CheckReportFitsHalfMemory(t, "tag", peakHeapOf, testkit.Hostile)
}
