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
func peakHeapOf(tb testing.TB, rep *domain.Report) uint64 {
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
		tb.Fatal(herr)
	}
	if len(tagger.written) != 1 {
		tb.Fatalf("%d repositories tagged, want 1", len(tagger.written))
	}
	return peak
}

// BenchmarkTagMemory reports the tag function's peak heap on the event of a
// 100,000-finding report next to its memory setting.
// Its time per op includes building and storing the report: peak-MB is
// the figure (testkit.PeakHeap says how it is measured).
func BenchmarkTagMemory(b *testing.B) {
	var peak uint64
	for b.Loop() {
		peak = max(peak, peakHeapOf(b, testkit.LargeReport(testkit.RealisticFindings)))
	}
	testkit.ReportPeakHeap(b, "tag", peak)
}

// TestTagLargeReportFitsHalfMemory: tagging for a 100,000-finding report
// stays within half the function's memory.
func TestTagLargeReportFitsHalfMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40 MB report")
	}
	testkit.CheckPeakHeap(t, "tag", peakHeapOf(t, testkit.LargeReport(testkit.RealisticFindings)))
}

// TestTagHostileReportFitsHalfMemory: so does tagging for a hostile
// 180,000-finding one.
func TestTagHostileReportFitsHalfMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 90 MB report")
	}
	testkit.CheckPeakHeap(t, "tag", peakHeapOf(t, testkit.HostileReport(testkit.HostileFindings)))
}
