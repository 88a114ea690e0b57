package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/qscanner"
	"ecrscanner/infra/qscanner/qscannertest"
)

// Ingest budgets: the parse of a 20,000-finding report against a generic
// encoding/json decode of its SARIF into any.
const (
	IngestFindings    = 20_000
	IngestTimeBudget  = 0.7
	IngestAllocBudget = 0.5
	IngestHeapLimitMB = 48
)

// measureIngest parses a 20,000-finding output of the QScanner stand-in
// (about 20 MB of SARIF) with qscanner.ParseDir, and decodes the same SARIF
// file generically, each as a Go benchmark.
func (b *bench) measureIngest(ctx context.Context) section {
	dir, sarif, err := standInOutput(ctx, filepath.Join(b.tmp, "ingest"), IngestFindings)
	if err != nil {
		return section{rows: []Row{errRow("ingest", err)}}
	}
	size, _ := fileSize(sarif)
	b.progress("ingest: %d findings, %.1f MB of SARIF; benchmarking qscanner.ParseDir and a generic decode", IngestFindings, mb(size))
	testing.Init()
	// Three rounds, the two benchmarks alternating, and the fastest of
	// each kept: on a shared machine the others' load only ever slows a
	// round down.
	var parse, generic testing.BenchmarkResult
	for round := range ingestRounds {
		p, err1 := benchParse(dir)
		g, err2 := benchGeneric(sarif)
		if err := firstErr(err1, err2); err != nil {
			return section{rows: []Row{errRow("ingest", err)}}
		}
		if round == 0 || p.NsPerOp() < parse.NsPerOp() {
			parse = p
		}
		if round == 0 || g.NsPerOp() < generic.NsPerOp() {
			generic = g
		}
	}
	peak := testkit.PeakHeap(func() { _, _ = qscanner.ParseDir(dir) })
	genericPeak := testkit.PeakHeap(func() { _ = genericDecode(sarif) })
	return section{
		rows: []Row{
			ratioRow(fmt.Sprintf("ingest time, %d findings", IngestFindings), ms(timePerOp(parse)), ms(timePerOp(generic)), "%.0f ms", IngestTimeBudget),
			ratioRow("ingest allocations", float64(parse.AllocsPerOp()), float64(generic.AllocsPerOp()), "%.0f", IngestAllocBudget),
			ratioRow("ingest peak heap", float64(peak)/1e6, IngestHeapLimitMB, "%.1f MB", 1),
		},
		notes: []string{fmt.Sprintf("ingest: fastest of %d rounds each; floor = encoding/json Decoder into any of the same %.1f MB SARIF (%.0f MB allocated, peak heap %.1f MB); ParseDir also reads the ScanResult.json; the heap row's floor is its %d MB limit",
			ingestRounds, mb(size), float64(generic.AllocedBytesPerOp())/1e6, float64(genericPeak)/1e6, IngestHeapLimitMB)},
	}
}

// ingestRounds is how many times each ingest benchmark runs.
const ingestRounds = 3

// benchParse benchmarks qscanner.ParseDir on dir.
func benchParse(dir string) (testing.BenchmarkResult, error) {
	var failed error
	r := testing.Benchmark(func(tb *testing.B) {
		tb.ReportAllocs()
		for tb.Loop() {
			rep, err := qscanner.ParseDir(dir)
			if err == nil && len(rep.Vulnerabilities) != IngestFindings {
				err = fmt.Errorf("parsed %d findings, want %d", len(rep.Vulnerabilities), IngestFindings)
			}
			if err != nil {
				failed = err
				return
			}
		}
	})
	return r, failed
}

// benchGeneric benchmarks the floor, genericDecode of sarif.
func benchGeneric(sarif string) (testing.BenchmarkResult, error) {
	var failed error
	r := testing.Benchmark(func(tb *testing.B) {
		tb.ReportAllocs()
		for tb.Loop() {
			if err := genericDecode(sarif); err != nil {
				failed = err
				return
			}
		}
	})
	return r, failed
}

func timePerOp(r testing.BenchmarkResult) time.Duration { return time.Duration(r.NsPerOp()) }

// genericDecode is the floor: the file decoded into any, as any JSON
// document can be.
func genericDecode(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var v any
	return json.NewDecoder(f).Decode(&v)
}

// standInOutput has the QScanner stand-in (a test tool, not QScanner) write
// an output of n findings into dir, and returns dir and its SARIF file.
func standInOutput(ctx context.Context, dir string, n int) (string, string, error) {
	bin, err := qscannertest.Build()
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	cmd := exec.CommandContext(ctx, bin, "--pod", "US1", "--scan-types", "pkg,secret", "--output-dir", dir,
		"image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench@sha256:"+fmt.Sprintf("%064x", 14))
	cmd.Env = append(os.Environ(), "HOME="+dir, "QUALYS_ACCESS_TOKEN=bench", "DISABLE_QSCANNER_BANNER=yes",
		fmt.Sprintf("QSCANNER_STANDIN_FINDINGS=%d", n), "QSCANNER_STANDIN_MODE=ok", "QSCANNER_STANDIN_FIXTURE=", "QSCANNER_STANDIN_RECORD=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("stand-in: %w\n%s", err, out)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*-Report.sarif.json"))
	if len(m) != 1 {
		return "", "", fmt.Errorf("stand-in wrote %d SARIF files in %s", len(m), dir)
	}
	return dir, m[0], nil
}
