package testkit

import (
	"testing"

	"ecrscanner/domain"
)

// HeapBound is the most heap a function may hold while it handles one
// message: half its memory setting, leaving the rest to the Go runtime
// (stacks, GC metadata, the binary), the Lambda runtime and the headroom a
// growing heap needs before the collector catches up.
func HeapBound(memMB int) uint64 { return uint64(memMB) << 20 / 2 }

// CheckPeakHeap fails tb when peak is above HeapBound for the function built
// from handlers/<handlerDir>, and logs both either way.
func CheckPeakHeap(tb testing.TB, handlerDir string, peak uint64) {
	tb.Helper()
	mem := FunctionMemoryMB(tb, handlerDir)
	tb.Logf("%s: peak heap %.1f MB, memory setting %d MB, bound %.1f MB", handlerDir, float64(peak)/1e6, mem, float64(HeapBound(mem))/1e6)
	if peak > HeapBound(mem) {
		tb.Errorf("%s: peak heap %.1f MB is above half the function's %d MB (%.1f MB)", handlerDir, float64(peak)/1e6, mem, float64(HeapBound(mem))/1e6)
	}
}

// ReportPeakHeap adds the peak heap and the function's memory setting to a
// benchmark's output.
func ReportPeakHeap(b *testing.B, handlerDir string, peak uint64) {
	b.Helper()
	b.ReportMetric(float64(peak)/1e6, "peak-MB")
	b.ReportMetric(float64(FunctionMemoryMB(b, handlerDir)), "mem-setting-MB")
}

// PeakOf runs a handler's real path on rep and returns the peak heap while
// it ran (PeakHeap); an error is the handler's.
type PeakOf func(tb testing.TB, rep *domain.Report) (uint64, error)

// BenchPeakHeap reports the highest peak heap of the function built from
// handlers/<handlerDir> over the benchmark's runs on a LargeReport of
// RealisticFindings, next to its memory setting. Its time per op includes
// building and storing the report: peak-MB is the figure.
func BenchPeakHeap(b *testing.B, handlerDir string, peakOf PeakOf) {
	var peak uint64
	for b.Loop() {
		p, err := peakOf(b, LargeReport(RealisticFindings))
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, p)
	}
	ReportPeakHeap(b, handlerDir, peak)
}

// CheckReportFitsHalfMemory fails t unless the function built from
// handlers/<handlerDir> handles the report build makes within HeapBound.
// Skipped under -short: the reports run to tens of megabytes.
func CheckReportFitsHalfMemory(t *testing.T, handlerDir string, peakOf PeakOf, build func() *domain.Report) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and handles a report of tens of megabytes")
	}
	peak, err := peakOf(t, build())
	if err != nil {
		t.Fatal(err)
	}
	CheckPeakHeap(t, handlerDir, peak)
}

// Large and Hostile build the two reports the memory checks use.
func Large() *domain.Report   { return LargeReport(RealisticFindings) }
func Hostile() *domain.Report { return HostileReport(HostileFindings) }
