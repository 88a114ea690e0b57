package main

import (
	"context"
	"log/slog"
	"testing"

	"ecrscanner/infra/ops/testkit"
)

// BenchmarkArchiveDocument archives a 20,000-finding report, the size the
// design plans for, from a report in memory: the cost of encoding the
// document as the findings are walked. Compare B/op with the function's
// memory; BenchmarkArchiveMemory measures the whole path's peak heap.
func BenchmarkArchiveDocument(b *testing.B) {
	rep := testkit.LargeReport(20_000)
	ev := testkit.CompletedEvent(rep, testkit.MustRef(b, "team/app", "v1"))
	archive := &fakeArchive{}
	h, err := NewHandler(testkit.SampleReports(rep), archive, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		archive.puts = nil
		if err := h.Handle(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(archive.puts[0].body)), "doc-bytes")
}
