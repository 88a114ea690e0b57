package testkit

import (
	"testing"
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
