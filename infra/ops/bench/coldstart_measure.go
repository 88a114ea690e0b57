package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// measureColdStart starts every function, its floor and its floor with
// X-Ray under the Lambda runtime interface emulator, runs times each,
// interleaved so that the machine's load falls on all three alike, and
// compares the medians.
func (b *bench) measureColdStart(ctx context.Context) section {
	rie, err := installRIE(ctx)
	if err != nil {
		return section{rows: []Row{errRow("cold start", err)}}
	}
	bins, err := b.build(ctx, b.tmp+"/host", runtime.GOARCH)
	if err != nil {
		return section{rows: []Row{errRow("cold start", err)}}
	}
	var s section
	for _, fn := range b.functions {
		b.progress("cold start: %s, its floor and its floor with X-Ray, %d starts each under aws-lambda-rie", fn, b.opts.runs)
		got := map[string][]time.Duration{}
		var failed error
		for i := 0; i < b.opts.runs && failed == nil; i++ {
			for kind, bin := range map[string]string{"fn": bins.fn[fn], "floor": bins.floor[fn], "xray": bins.floorXRay[fn]} {
				d, err := initRetrying(ctx, rie, bin, invokePayload(fn))
				if err != nil {
					failed = fmt.Errorf("%s (%s): %w", fn, kind, err)
					break
				}
				got[kind] = append(got[kind], d)
			}
		}
		if failed != nil {
			s.rows = append(s.rows, errRow("cold start "+fn, failed))
			continue
		}
		fnMed, floorMed, xrayMed := median(got["fn"]), median(got["floor"]), median(got["xray"])
		s.rows = append(s.rows, ratioRow(fmt.Sprintf("cold start %s (median of %d)", fn, b.opts.runs), ms(fnMed), ms(floorMed), "%.1f ms", ColdStartBudget))
		top := b.initTrace(ctx, bins.fn[fn])
		s.notes = append(s.notes, fmt.Sprintf("cold start %s: floor with X-Ray set up %.1f ms (tracing costs %+.1f ms); costliest inits: %s", fn, ms(xrayMed), ms(xrayMed-floorMed), top))
	}
	s.notes = append(s.notes, "cold start: under aws-lambda-rie "+rieVersion+": first invocation's round trip minus the second's (process start to the runtime's first /next); floor = testdata/floor/<fn>, the same SDK clients and nothing else; make build's flags, this machine's architecture")
	return s
}

// initRetrying is initUnderRIE, tried up to three times: on a loaded
// machine the emulator now and then answers 502 to a first invocation
// whose runtime it has started.
func initRetrying(ctx context.Context, rie, bin, payload string) (time.Duration, error) {
	var err error
	for range 3 {
		var d time.Duration
		if d, err = initUnderRIE(ctx, rie, bin, payload); err == nil {
			return d, nil
		}
	}
	return 0, err
}

// initTrace runs bin once with GODEBUG=inittrace=1, pointed at a Runtime
// API where nothing listens (its package initialisers run before main, so
// they are traced all the same), and names the three that took longest.
func (b *bench) initTrace(ctx context.Context, bin string) string {
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(coldStartEnv(), "GODEBUG=inittrace=1", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9")
	out, _ := cmd.CombinedOutput() // it fails at its first poll, by design
	inits := parseInitTrace(string(out))
	if len(inits) == 0 {
		return "no inittrace output"
	}
	var parts []string
	for i := 0; i < len(inits) && i < 3; i++ {
		parts = append(parts, fmt.Sprintf("%s %.2f ms", inits[i].pkg, inits[i].ms))
	}
	var total float64
	for _, in := range inits {
		total += in.ms
	}
	return fmt.Sprintf("%s (all %d inits %.1f ms)", strings.Join(parts, ", "), len(inits), total)
}

type pkgInit struct {
	pkg string
	ms  float64
}

var initLineRE = regexp.MustCompile(`(?m)^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock`)

// parseInitTrace reads GODEBUG=inittrace=1 lines, costliest first.
func parseInitTrace(out string) []pkgInit {
	var inits []pkgInit
	for _, m := range initLineRE.FindAllStringSubmatch(out, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			inits = append(inits, pkgInit{m[1], v})
		}
	}
	sort.SliceStable(inits, func(i, j int) bool { return inits[i].ms > inits[j].ms })
	return inits
}
