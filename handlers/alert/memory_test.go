package main

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/s3store"
)

// peakHeapOf alerts on rep, stored as the scan function stores it, through
// the handler's real path (s3store reading an in-memory bucket) and returns
// the peak heap while the handler ran. The report has secrets, so the
// handler reads it to list them.
func peakHeapOf(tb testing.TB, rep *domain.Report) (uint64, error) {
	tb.Helper()
	objects := testkit.NewMemoryObjects()
	reports, err := s3store.NewReports(objects, testkit.Bucket)
	if err != nil {
		tb.Fatal(err)
	}
	ev := testkit.StoredReport(tb, reports, rep, testkit.MustRef(tb, "team/app", "v1"))
	rep = nil // only the compressed report stays, as in the function
	pub := &fakePublisher{}
	h, err := NewHandler(pub, reports, testkit.NewMemoryIdempotencyStore(nil), testConfig(), discardLogger())
	if err != nil {
		tb.Fatal(err)
	}
	var herr error
	peak := testkit.PeakHeap(func() { herr = h.Handle(context.Background(), ev) })
	if herr != nil {
		return 0, herr
	}
	if len(pub.sent) != 1 {
		tb.Fatalf("%d alerts sent, want 1", len(pub.sent))
	}
	return peak, nil
}

// BenchmarkAlertMemory reports the alert function's peak heap on a
// 100,000-finding report next to its memory setting.
func BenchmarkAlertMemory(b *testing.B) { testkit.BenchPeakHeap(b, "alert", peakHeapOf) }

// TestAlertLargeReportFitsHalfMemory: a 100,000-finding report is handled
// within half the function's memory.
func TestAlertLargeReportFitsHalfMemory(t *testing.T) {
	testkit.CheckReportFitsHalfMemory(t, "alert", peakHeapOf, testkit.Large)
}

// TestAlertHostileReportFitsHalfMemory: so is a hostile 180,000-finding one.
func TestAlertHostileReportFitsHalfMemory(t *testing.T) {
	testkit.CheckReportFitsHalfMemory(t, "alert", peakHeapOf, testkit.Hostile)
}

// TestShownSecretsKeepWhatSortingTheWholeReportWould: kept as they are
// walked, the secrets an alert shows are the first of the whole report
// sorted stably by secretOrder, ties (same severity, file and line) in the
// report's order.
func TestShownSecretsKeepWhatSortingTheWholeReportWould(t *testing.T) {
	var all []domain.Secret
	for i := range 200 {
		all = append(all, domain.Secret{
			RuleID:    fmt.Sprintf("rule-%d", i),
			Severity:  domain.Severities[(i*7)%len(domain.Severities)],
			File:      fmt.Sprintf("/f%d", (i*13)%5),
			StartLine: (i * 3) % 4,
		})
	}
	top := shownSecrets{max: maxSecretsShown}
	for _, s := range all {
		if err := top.add(s); err != nil {
			t.Fatal(err)
		}
	}
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, secretOrder)
	if want := sorted[:maxSecretsShown]; !slices.Equal(top.list, want) {
		t.Errorf("kept %v\nwant %v", top.list, want)
	}
}
