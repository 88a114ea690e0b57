package main

import (
	"fmt"
	"sort"
	"time"
)

// pipelineSection turns the pipeline measure into rows. No budget is set
// for the pipeline (issue 14): its rows are information, except that the
// burst must scan each digest exactly once.
func pipelineSection(res *pipelineResult, o options) section {
	var s section
	if n := len(res.latencies); n > 0 {
		s.rows = append(s.rows,
			Row{Measure: fmt.Sprintf("pipeline push→all effects, median of %d", n), Figure: fmt.Sprintf("%.2f s", percentile(res.latencies, 50).Seconds())},
			Row{Measure: fmt.Sprintf("pipeline push→all effects, p95 of %d", n), Figure: fmt.Sprintf("%.2f s", percentile(res.latencies, 95).Seconds())})
	}
	if res.burstDigests > 0 {
		// One scan per digest is the budget: more is OVER, fewer an error.
		scans := ratioRow(fmt.Sprintf("burst: %d events over %d digests, scans", res.burstEvents, res.burstDigests), float64(res.scans), float64(res.burstDigests), "%.0f", 1)
		if res.scans < res.burstDigests {
			scans.Err = fmt.Errorf("%d QScanner runs for %d digests: want exactly one each", res.scans, res.burstDigests)
		}
		tput := ratioRow(fmt.Sprintf("burst: %d events, time to quiet", res.burstEvents), res.burstTook.Seconds(), res.floorTook.Seconds(), "%.1f s", 0)
		tput.Figure += fmt.Sprintf(" (%.1f ev/s)", float64(res.burstEvents)/res.burstTook.Seconds())
		tput.Floor += fmt.Sprintf(" (%.1f ev/s)", float64(res.burstEvents)/max(res.floorTook.Seconds(), 1e-9))
		s.rows = append(s.rows, scans, tput)
		total := 0
		for _, n := range res.calls {
			total += n
		}
		s.notes = append(s.notes, fmt.Sprintf("pipeline: moto with IAM enforced, QScanner stand-in (zero-time test tool); latency pushes one at a time, each to a repository of its own; burst floor = the functions' %d AWS requests of the burst replayed straight to moto, %d at a time (the Pipe's and the pollers' own calls, which AWS makes, are in neither)", total, floorWorkers))
	}
	return s
}

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1]
}
