// Command bench is `make bench`: every performance figure of the project
// beside its floor, measured in the same run on this machine, in one table —
// cold start, binary size, ingest, memory per downstream handler, the
// pipeline on the local stack, and the cost per 1,000 scans. Budgets are
// printed, never asserted: it is a benchmark, not a test.
//
//	go run ./infra/ops/bench [-runs 11] [-pushes 15] [-burst-events 150] [-burst-digests 30] [-only size,coldstart,...]
//
// The full sizes (-pushes 200 -burst-events 1000 -burst-digests
// 200) take over half an hour on a two-core machine, moto being the
// bottleneck (about 30 requests a second with IAM enforced); the defaults
// keep make bench under ten minutes.
//
// Progress goes to stderr, the table and one line per floor to stdout.
// Operator code: no function links it (handlers/depcheck_test).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"ecrscanner/infra/ops/modroot"
)

// options are the command line.
type options struct {
	runs                      int
	pushes                    int
	burstEvents, burstDigests int
	only                      map[string]bool
}

// section is what one measure adds to the table, and the lines that
// explain its floors.
type section struct {
	rows  []Row
	notes []string
}

// bench is one run of the driver.
type bench struct {
	opts      options
	root, tmp string
	functions []string
	started   time.Time
	log       io.Writer
	// pipeline is the pipeline measure's result, which the cost model reads.
	pipeline *pipelineResult
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "[%6.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

// measures run in this order: the cost model reads the pipeline's figures.
var measures = []struct {
	name string
	run  func(*bench, context.Context) section
}{
	{"size", (*bench).measureSize},
	{"coldstart", (*bench).measureColdStart},
	{"ingest", (*bench).measureIngest},
	{"memory", (*bench).measureMemory},
	{"pipeline", (*bench).measurePipeline},
	{"cost", (*bench).measureCost},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{opts: opts, started: time.Now(), log: stderr}
	if err := b.setup(); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(b.tmp)
	var rows []Row
	var notes []string
	for _, m := range measures {
		if len(opts.only) > 0 && !opts.only[m.name] {
			continue
		}
		b.progress("== %s", m.name)
		s := m.run(b, ctx)
		rows, notes = append(rows, s.rows...), append(notes, s.notes...)
	}
	fmt.Fprintf(stdout, "\nmake bench — %s, %d cores, %s (took %v)\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), numCPU(), goVersion(), time.Since(b.started).Round(time.Second))
	PrintTable(stdout, rows)
	fmt.Fprintln(stdout)
	for _, n := range notes {
		fmt.Fprintln(stdout, "  "+n)
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.runs, "runs", 11, "cold starts per binary (the median is reported)")
	fs.IntVar(&o.pushes, "pushes", 15, "pushes whose push-to-all-effects latency is measured, one at a time, one distinct image each (issue 14 asks for 200; the default fits make bench in ten minutes on two cores)")
	fs.IntVar(&o.burstEvents, "burst-events", 150, "push events of the burst (issue 14 asks for 1000; see -pushes)")
	fs.IntVar(&o.burstDigests, "burst-digests", 30, "distinct images the burst's events are spread over, each to be scanned exactly once (issue 14: 200)")
	only := fs.String("only", "", "comma-separated measures to run (size, coldstart, ingest, memory, pipeline, cost); default all")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.only = map[string]bool{}
	for _, m := range strings.Split(*only, ",") {
		if m = strings.TrimSpace(m); m != "" {
			o.only[m] = true
		}
	}
	switch {
	case o.runs < 1:
		return o, flagErr(stderr, "-runs must be at least 1")
	case o.pushes < 0 || o.burstEvents < 0 || o.burstDigests < 0:
		return o, flagErr(stderr, "-pushes, -burst-events and -burst-digests cannot be negative")
	case o.burstDigests > o.burstEvents:
		return o, flagErr(stderr, "-burst-digests cannot exceed -burst-events: every image needs a push")
	}
	return o, nil
}

func flagErr(w io.Writer, msg string) error {
	fmt.Fprintln(w, "bench:", msg)
	return fmt.Errorf("%s", msg)
}

func (b *bench) setup() error {
	root, err := modroot.Find(".")
	if err != nil {
		return err
	}
	b.root = root
	// The template is read relative to the module root.
	if err := os.Chdir(root); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "ecrscanner-bench-"); err != nil {
		return err
	}
	b.functions, err = functions()
	return err
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}
