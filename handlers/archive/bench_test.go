package main

import (
	"testing"

	"ecrscanner/infra/ops/testkit"
)

// BenchmarkArchiveDocument encodes the document of a 20,000-finding report,
// the size the design plans for. Compare B/op with the function's memory.
func BenchmarkArchiveDocument(b *testing.B) {
	rep := testkit.LargeReport(20_000)
	ev := testkit.CompletedEvent(rep, testkit.MustRef(b, "team/app", "v1"))
	repo := ev.Repositories()[0]
	b.ReportAllocs()
	var n int
	for b.Loop() {
		body, err := newDocument(ev, repo, rep).encode()
		if err != nil {
			b.Fatal(err)
		}
		n = len(body)
	}
	b.ReportMetric(float64(n), "doc-bytes")
}
