package s3store

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	"ecrscanner/infra/ops/testkit"
)

// BenchmarkEncodeReport compares the streamed encoding with marshalling the
// whole report first, for a 20,000-finding report. Compare B/op: the streamed
// form should allocate little beyond the compressed output, while the
// marshal form holds the full JSON (twice, inside json.Marshal).
func BenchmarkEncodeReport(b *testing.B) {
	r := testkit.LargeReport(20000)
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			var buf bytes.Buffer
			if err := encodeReport(&buf, r); err != nil {
				b.Fatal(err)
			}
			n = buf.Len()
		}
		b.ReportMetric(float64(n), "gzip-bytes")
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			var buf bytes.Buffer
			js, err := json.Marshal(r)
			if err != nil {
				b.Fatal(err)
			}
			zw := gzip.NewWriter(&buf)
			if _, err := zw.Write(js); err != nil {
				b.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				b.Fatal(err)
			}
			n = len(js)
		}
		b.ReportMetric(float64(n), "json-bytes")
	})
}

func BenchmarkDecodeReport(b *testing.B) {
	var buf bytes.Buffer
	if err := encodeReport(&buf, testkit.LargeReport(20000)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeReport(bytes.NewReader(buf.Bytes()), MaxReportSize); err != nil {
			b.Fatal(err)
		}
	}
}
