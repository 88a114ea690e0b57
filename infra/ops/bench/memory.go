package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"ecrscanner/infra/ops/testkit"
)

// memoryPackages hold the downstream handlers' peak-heap benchmarks
// (testkit.BenchPeakHeap on a RealisticFindings report).
var memoryPackages = []string{"./handlers/alert", "./handlers/archive", "./handlers/securityhub", "./handlers/tag"}

// measureMemory runs each downstream handler's memory benchmark once and
// sets its peak heap beside its memory setting: the budget is half.
func (b *bench) measureMemory(ctx context.Context) section {
	b.progress("memory: %d-finding report through alert, archive, securityhub and tag (go test -bench Memory)", testkit.RealisticFindings)
	args := append([]string{"test", "-run", "^$", "-bench", "Memory$", "-benchtime", "1x", "-count", "1"}, memoryPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = b.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return section{rows: []Row{errRow("memory", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 3)))}}
	}
	peaks := parseMemoryBench(out)
	if len(peaks) == 0 {
		return section{rows: []Row{errRow("memory", fmt.Errorf("no peak-MB in the benchmarks' output: %s", lastLines(string(out), 3)))}}
	}
	var s section
	for _, p := range peaks {
		s.rows = append(s.rows, ratioRow(fmt.Sprintf("peak heap %s, %d findings", p.handler, testkit.RealisticFindings), p.peakMB, p.settingMB, "%.0f MB", 0.5))
	}
	s.notes = append(s.notes, "memory: floor = the function's MemorySize in the template; peak heap sampled every 200µs (testkit.PeakHeap)")
	return s
}

type memoryPeak struct {
	handler           string
	peakMB, settingMB float64
}

var (
	benchNameRE = regexp.MustCompile(`Benchmark(\w+)Memory`)
	// The testing package prints extra metrics sorted by unit.
	peakFigure    = regexp.MustCompile(`\s([0-9.]+) peak-MB`)
	settingFigure = regexp.MustCompile(`\s([0-9.]+) mem-setting-MB`)
)

// parseMemoryBench reads the benchmark lines testkit.ReportPeakHeap writes.
// A benchmark that logs prints its name on a line of its own, its figures
// after the log: the figures belong to the last name seen.
func parseMemoryBench(out []byte) []memoryPeak {
	var peaks []memoryPeak
	name := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := benchNameRE.FindStringSubmatch(line); m != nil && strings.HasPrefix(strings.TrimSpace(line), "Benchmark") {
			name = strings.ToLower(m[1])
		}
		p, m := peakFigure.FindStringSubmatch(line), settingFigure.FindStringSubmatch(line)
		if p == nil || m == nil || name == "" {
			continue
		}
		peak, err1 := strconv.ParseFloat(p[1], 64)
		setting, err2 := strconv.ParseFloat(m[1], 64)
		if err1 == nil && err2 == nil {
			peaks = append(peaks, memoryPeak{name, peak, setting})
		}
		name = ""
	}
	return peaks
}
