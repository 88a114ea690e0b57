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

// peakHeapOf archives rep, stored as the scan function stores it, through
// the handler's real path (s3store reading and writing an in-memory bucket)
// and returns the peak heap while the handler ran, and its error.
func peakHeapOf(tb testing.TB, rep *domain.Report) (uint64, error) {
	tb.Helper()
	objects := testkit.NewMemoryObjects()
	reports, err := s3store.NewReports(objects, testkit.Bucket)
	if err != nil {
		tb.Fatal(err)
	}
	ev := testkit.StoredReport(tb, reports, rep, testkit.MustRef(tb, "team/app", "v1"))
	objects.KeepSizesOnly()
	archive, err := s3store.NewArchive(objects, testkit.Bucket)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := NewHandler(reports, archive, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	rep = nil // only the compressed report stays, as in the function
	var herr error
	peak := testkit.PeakHeap(func() { herr = h.Handle(context.Background(), ev) })
	if _, ok := objects.Size(testkit.Bucket, s3store.ArchiveKey("team/app", ev.Digest, ev.ScannedAt)); herr == nil && !ok {
		tb.Fatal("the handler succeeded but wrote no archive object")
	}
	return peak, herr
}

// BenchmarkArchiveMemory reports the archive function's peak heap on a
// 100,000-finding report next to its memory setting.
func BenchmarkArchiveMemory(b *testing.B) { testkit.BenchPeakHeap(b, "archive", peakHeapOf) }

// TestArchiveLargeReportFitsHalfMemory: a 100,000-finding report is handled
// within half the function's memory.
func TestArchiveLargeReportFitsHalfMemory(t *testing.T) {
	testkit.CheckReportFitsHalfMemory(t, "archive", peakHeapOf, testkit.Large)
}

// TestArchiveHostileReportFitsHalfMemory: so is a hostile 180,000-finding one.
func TestArchiveHostileReportFitsHalfMemory(t *testing.T) {
	testkit.CheckReportFitsHalfMemory(t, "archive", peakHeapOf, testkit.Hostile)
}
