package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/securityhubstore"
)

// discardingHubAPI is a Security Hub that accepts every import and holds
// nothing, so that a benchmark measures the function, not the fake. It
// counts what was imported.
type discardingHubAPI struct {
	mu       sync.Mutex
	imported int
	calls    int
}

func (d *discardingHubAPI) BatchImportFindings(_ context.Context, in *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	d.imported += len(in.Findings)
	return &securityhub.BatchImportFindingsOutput{}, nil
}

func (d *discardingHubAPI) GetFindings(context.Context, *securityhub.GetFindingsInput, ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error) {
	return &securityhub.GetFindingsOutput{}, nil
}

func (d *discardingHubAPI) BatchUpdateFindings(context.Context, *securityhub.BatchUpdateFindingsInput, ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	return &securityhub.BatchUpdateFindingsOutput{}, nil
}

// peakHeapOf imports rep, stored as the scan function stores it, through
// the handler's real path (s3store reading an in-memory bucket,
// securityhubstore encoding each batch) and returns the peak heap while the
// handler ran, and its error.
func peakHeapOf(t testing.TB, rep *domain.Report) (uint64, error) {
	t.Helper()
	want := len(rep.Vulnerabilities) + len(rep.Secrets)
	objects := testkit.NewMemoryObjects()
	reports, err := s3store.NewReports(objects, testkit.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	ev := testkit.StoredReport(t, reports, rep, testkit.MustRef(t, "team/app", "v1"))
	rep = nil // only the compressed report stays, as in the function
	api := &discardingHubAPI{}
	hub, err := securityhubstore.New(api, testProduct)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(reports, hub, newFakeTags(), hub.Product(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var herr error
	peak := testkit.PeakHeap(func() { herr = h.Handle(context.Background(), ev) })
	if herr == nil && api.imported != want {
		t.Fatalf("%d findings imported, want %d", api.imported, want)
	}
	return peak, herr
}

// BenchmarkSecurityHubMemory reports the securityhub function's peak heap on a
// 100,000-finding report next to its memory setting.
func BenchmarkSecurityHubMemory(b *testing.B) { testkit.BenchPeakHeap(b, "securityhub", peakHeapOf) }

// TestSecurityHubLargeReportFitsHalfMemory: a 100,000-finding report is handled
// within half the function's memory.
func TestSecurityHubLargeReportFitsHalfMemory(t *testing.T) {
	testkit.CheckReportFitsHalfMemory(t, "securityhub", peakHeapOf, testkit.Large)
}

// TestSecurityHubHostileReportFitsHalfMemory: so is a hostile 180,000-finding one.
func TestSecurityHubHostileReportFitsHalfMemory(t *testing.T) {
	testkit.CheckReportFitsHalfMemory(t, "securityhub", peakHeapOf, testkit.Hostile)
}
