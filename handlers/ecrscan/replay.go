package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/ops/stack"
)

// Exit codes of replay and status.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130 // the shell's code for SIGINT
)

// defaultStack is the stack replay and status act on without --stack or
// STACK_NAME: the template's usual stack name.
const defaultStack = "qualys-ecr-scanner"

// loadAWSConfig loads the SDK configuration; tests aim it at moto.
var loadAWSConfig = func(ctx context.Context) (aws.Config, error) { return awsconfig.Load(ctx) }

func init() {
	register("replay", command{
		usage: "re-emit scan results to the handlers (all, or chosen ones) from the scans table or the bus archive",
		run:   runReplay,
	})
}

const replayUsage = `usage: ecrscan replay SELECTION [--handler NAME]... [options]
       ecrscan replay --resume CHECKPOINT [--rate N]

Re-emits the current outcome of chosen scan records (Scan Completed, or Scan
Failed for a scan that failed for good) under a replay ID, so that handlers
redo their work instead of deduplicating it away.

Selection (at least one; criteria combine):
  --digest D         this digest (repeatable)
  --repository R     records with a reference in R; events keep only R's references
  --since T          completed at or after T (RFC 3339, or an age such as 24h, 7d)
  --until T          completed before T
  --all              every record

Targets:
  (default)          the image-scans bus: every handler whose rule matches
  --handler NAME     only this handler (repeatable): straight to its queue

Options:
  --from-archive     replay the bus archive (EventBridge StartReplay) for the
                     --since/--until window instead of reading the scans table
  --stack NAME       the scanner's stack (default $STACK_NAME, else qualys-ecr-scanner)
  --replay-id ID     replay ID (default: a new one)
  --dry-run          list what would be sent; send nothing
  --rate N           events per second (default 50)
  --checkpoint PATH  progress file (default .ecrscan-replay-<replay id>.json)
  --resume PATH      continue an interrupted replay from its checkpoint
  --page-size N      records read per page of the table scan (default 100)
  --poll D           how often to check an archive replay's progress (default 5s)

Exit 0: done. Exit 1: failed, or selected digests have no record. Exit 2: bad
usage. Exit 130: interrupted; resume with --resume.`

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// replayIDRE keeps a replay ID usable in a file name, an idempotency key and
// an EventBridge replay name.
var replayIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,56}$`)

type replayOptions struct {
	sel         replay.Selection
	handlers    []string
	fromArchive bool
	stack       string
	replayID    string
	dryRun      bool
	rate        float64
	checkpoint  string
	resume      string
	pageSize    int
	poll        time.Duration
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	opts, err := parseReplayArgs(args, time.Now())
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, replayUsage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecrscan replay: %v\nsee ecrscan replay -h\n", err)
		return exitUsage
	}
	// SIGINT or SIGTERM stops the replay after its current batch; the
	// checkpoint holds everything up to the last full page.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &replayRun{opts: opts, stdout: stdout, stderr: stderr}
	return r.run(ctx)
}

func parseReplayArgs(args []string, now time.Time) (replayOptions, error) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var digests, handlers listFlag
	fs.Var(&digests, "digest", "")
	repository := fs.String("repository", "", "")
	since := fs.String("since", "", "")
	until := fs.String("until", "", "")
	all := fs.Bool("all", false, "")
	fs.Var(&handlers, "handler", "")
	fromArchive := fs.Bool("from-archive", false, "")
	stackName := fs.String("stack", stackFromEnv(), "")
	replayID := fs.String("replay-id", "", "")
	dryRun := fs.Bool("dry-run", false, "")
	rate := fs.Float64("rate", 50, "")
	checkpoint := fs.String("checkpoint", "", "")
	resume := fs.String("resume", "", "")
	pageSize := fs.Int("page-size", 100, "")
	poll := fs.Duration("poll", 5*time.Second, "")
	if err := fs.Parse(args); err != nil {
		return replayOptions{}, err
	}
	if fs.NArg() > 0 {
		return replayOptions{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o := replayOptions{handlers: handlers, fromArchive: *fromArchive, stack: *stackName, replayID: *replayID,
		dryRun: *dryRun, rate: *rate, checkpoint: *checkpoint, resume: *resume, pageSize: *pageSize, poll: *poll}
	if o.rate <= 0 {
		return o, fmt.Errorf("--rate %v must be positive", o.rate)
	}
	if o.pageSize <= 0 {
		return o, fmt.Errorf("--page-size %d must be positive", o.pageSize)
	}
	if o.poll <= 0 {
		return o, fmt.Errorf("--poll %v must be positive", o.poll)
	}
	if o.resume != "" {
		for _, name := range []string{"digest", "repository", "since", "until", "all", "handler", "from-archive", "replay-id", "dry-run", "checkpoint", "stack"} {
			if set[name] {
				return o, fmt.Errorf("--resume continues the checkpoint's replay as it was started: --%s cannot change it", name)
			}
		}
		return o, nil
	}
	if o.replayID == "" {
		o.replayID = domain.NewID()
	} else if !replayIDRE.MatchString(o.replayID) {
		return o, fmt.Errorf("--replay-id %q: want 1-56 of A-Z a-z 0-9 . _ -", o.replayID)
	}
	for _, d := range digests {
		pd, err := domain.ParseDigest(d)
		if err != nil {
			return o, fmt.Errorf("--digest: %w", err)
		}
		o.sel.Digests = append(o.sel.Digests, pd)
	}
	o.sel.Repository, o.sel.All = *repository, *all
	var err error
	if o.sel.Since, err = parseReplayTime(*since, now); err != nil {
		return o, fmt.Errorf("--since: %w", err)
	}
	if o.sel.Until, err = parseReplayTime(*until, now); err != nil {
		return o, fmt.Errorf("--until: %w", err)
	}
	if o.fromArchive {
		switch {
		case len(o.sel.Digests) > 0 || o.sel.Repository != "" || o.sel.All:
			return o, errors.New("--from-archive replays a time window of the bus archive: it selects with --since/--until only")
		case o.sel.Since.IsZero():
			return o, errors.New("--from-archive needs --since (and optionally --until, default now)")
		case set["checkpoint"]:
			return o, errors.New("--from-archive keeps no checkpoint: EventBridge runs the replay")
		}
		if o.sel.Until.IsZero() {
			o.sel.Until = now
		}
	}
	if err := o.sel.Validate(); err != nil {
		return o, err
	}
	if o.checkpoint == "" {
		o.checkpoint = replay.DefaultCheckpointPath(o.replayID)
	}
	return o, nil
}

func stackFromEnv() string {
	if s := os.Getenv("STACK_NAME"); s != "" {
		return s
	}
	return defaultStack
}

// parseReplayTime reads a point in time: RFC 3339, or an age before now such as
// 90m, 24h or 7d. Empty is the zero time.
func parseReplayTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var age time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor an age such as 24h or 7d", s)
		}
		age = time.Duration(n) * 24 * time.Hour
	} else {
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor an age such as 24h or 7d", s)
		}
		age = d
	}
	if age <= 0 {
		return time.Time{}, fmt.Errorf("age %q must be positive", s)
	}
	return now.Add(-age), nil
}

// replayRun is one replay command.
type replayRun struct {
	opts           replayOptions
	stdout, stderr io.Writer
	lastProgress   time.Time
	lastLine       string
	latest         replay.Progress
}

func (r *replayRun) fail(format string, a ...any) int {
	fmt.Fprintf(r.stderr, "ecrscan replay: "+format+"\n", a...)
	return exitFailed
}

func (r *replayRun) run(ctx context.Context) int {
	var cp replay.Checkpoint
	if r.opts.resume != "" {
		var err error
		if cp, err = replay.LoadCheckpoint(r.opts.resume); err != nil {
			fmt.Fprintf(r.stderr, "ecrscan replay: %v\n", err)
			return exitUsage
		}
		r.opts.replayID, r.opts.stack, r.opts.sel, r.opts.handlers = cp.ReplayID, cp.Stack, cp.Selection, cp.Handlers
		r.opts.checkpoint = r.opts.resume
		fmt.Fprintf(r.stdout, "replay id: %s (resumed from %s: %d sent, %d skipped so far)\n", cp.ReplayID, r.opts.resume, cp.Sent, cp.Skipped)
	} else {
		fmt.Fprintf(r.stdout, "replay id: %s\n", r.opts.replayID)
		cp = replay.Checkpoint{ReplayID: r.opts.replayID, Stack: r.opts.stack, Selection: r.opts.sel, Handlers: r.opts.handlers}
	}

	cfg, err := loadAWSConfig(ctx)
	if err != nil {
		return r.fail("%v", err)
	}
	tmpl, err := stack.Load()
	if err != nil {
		return r.fail("%v", err)
	}
	st, err := replay.LoadStack(ctx, cloudformation.NewFromConfig(cfg), r.opts.stack, tmpl)
	if err != nil {
		return r.fail("%v", err)
	}
	chosen, err := st.Select(r.opts.handlers)
	if err != nil {
		fmt.Fprintf(r.stderr, "ecrscan replay: --handler: %v\n", err)
		return exitUsage
	}
	eb := eventbridge.NewFromConfig(cfg)
	if r.opts.fromArchive {
		return r.fromArchive(ctx, eb, st, chosen)
	}
	routes, err := replay.LoadRoutes(ctx, eb, st, chosen)
	if err != nil {
		return r.fail("%v", err)
	}
	source, err := replay.NewSource(dynamodb.NewFromConfig(cfg), st.ScansTable, r.opts.sel, r.opts.pageSize)
	if err != nil {
		return r.fail("%v", err)
	}
	runner := &replay.Runner{Source: source, Progress: r.progress, Skip: r.skip}
	target := fmt.Sprintf("the %s bus (handlers: %s)", st.Bus, strings.Join(st.HandlerNames(), ", "))
	if len(r.opts.handlers) > 0 {
		target = "the queues of " + strings.Join(handlerNames(chosen), ", ")
	}
	var table *tabwriter.Writer
	switch {
	case r.opts.dryRun:
		fmt.Fprintf(r.stdout, "dry run: nothing is sent; would send to %s\n", target)
		table = tabwriter.NewWriter(r.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(table, "DIGEST\tEVENT\tREPOSITORIES\tHANDLERS")
		runner.Sink = replay.PlanSink{Routes: routes, Account: st.Account, Region: st.Region, Report: func(ev events.ScanEvent, hs []string) {
			h := strings.Join(hs, ",")
			if h == "" {
				h = "none (no chosen handler subscribes)"
			}
			fmt.Fprintf(table, "%s\t%s\t%s\t%s\n", ev.Digest, ev.EventType, eventRepositories(ev), h)
		}}
	case len(r.opts.handlers) > 0:
		sink, err := replay.NewQueueSink(sqs.NewFromConfig(cfg), routes, st.Account, st.Region)
		if err != nil {
			return r.fail("%v", err)
		}
		runner.Sink = sink
	default:
		sink, err := replay.NewBusSink(eb, st.Bus)
		if err != nil {
			return r.fail("%v", err)
		}
		runner.Sink = sink
	}
	if !r.opts.dryRun {
		if runner.Limiter, err = replay.NewLimiter(r.opts.rate); err != nil {
			return r.fail("%v", err)
		}
		path := r.opts.checkpoint
		runner.Save = func(cp replay.Checkpoint) error { return replay.SaveCheckpoint(path, cp) }
	}

	start := time.Now()
	cp, err = runner.Run(ctx, cp)
	if table != nil {
		table.Flush()
	}
	switch {
	case err != nil && r.opts.dryRun:
		fmt.Fprintf(r.stderr, "ecrscan replay: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailed
	case err != nil && ctx.Err() != nil && cp.Started.IsZero():
		fmt.Fprintln(r.stderr, "ecrscan replay: interrupted before anything was sent")
		return exitInterrupted
	case err != nil && ctx.Err() != nil:
		r.printProgress(cp.Sent, cp.Skipped, cp.Total, r.latest.Rate)
		fmt.Fprintf(r.stderr, "ecrscan replay: interrupted after %d events; resume with: ecrscan replay --resume %s\n", cp.Sent, r.opts.checkpoint)
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(r.stderr, "ecrscan replay: %v\n", err)
		if !cp.Started.IsZero() {
			fmt.Fprintf(r.stderr, "ecrscan replay: %d events sent before the failure; resume with: ecrscan replay --resume %s\n", cp.Sent, r.opts.checkpoint)
		}
		return exitFailed
	}
	if !r.opts.dryRun {
		r.printProgress(cp.Sent, cp.Skipped, cp.Total, r.latest.Rate)
		if err := os.Remove(r.opts.checkpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(r.stderr, "ecrscan replay: remove checkpoint: %v\n", err)
		}
	}
	if r.opts.dryRun {
		fmt.Fprintf(r.stdout, "would send %d event(s) to %s (%d skipped)\n", cp.Sent, target, cp.Skipped)
	} else {
		fmt.Fprintf(r.stdout, "sent %d event(s) to %s (%d skipped) in %.1fs\n", cp.Sent, target, cp.Skipped, time.Since(start).Seconds())
	}
	for _, d := range cp.Missing {
		fmt.Fprintf(r.stderr, "ecrscan replay: no scan record for %s\n", d)
	}
	if len(cp.Missing) > 0 {
		return exitFailed
	}
	return exitOK
}

func (r *replayRun) fromArchive(ctx context.Context, eb *eventbridge.Client, st replay.Stack, chosen []replay.Handler) int {
	plan, err := replay.PlanArchiveReplay(ctx, eb, st, r.opts.replayID, chosen, r.opts.sel.Since, r.opts.sel.Until)
	if err != nil {
		return r.fail("%v", err)
	}
	fmt.Fprintf(r.stdout, "archive replay: %s\n", plan.Name)
	fmt.Fprintf(r.stdout, "  archive   %s\n", plan.ArchiveARN)
	fmt.Fprintf(r.stdout, "  window    %s to %s\n", plan.Since.UTC().Format(time.RFC3339), plan.Until.UTC().Format(time.RFC3339))
	fmt.Fprintf(r.stdout, "  handlers  %s (rules %s)\n", strings.Join(plan.Handlers, ", "), strings.Join(plan.FilterARNs, ", "))
	fmt.Fprintf(r.stdout, "  handlers see the replay ID archive:%s\n", plan.Name)
	if r.opts.dryRun {
		fmt.Fprintln(r.stdout, "dry run: the replay was not started")
		return exitOK
	}
	if err := plan.Start(ctx, eb); err != nil {
		return r.fail("%v", err)
	}
	final, err := plan.Wait(ctx, eb, r.opts.poll, func(p replay.ArchiveProgress) {
		fmt.Fprintf(r.stderr, "replay %s: %s %.0f%%\n", plan.Name, p.State, p.Fraction*100)
	})
	if err != nil {
		fmt.Fprintf(r.stderr, "ecrscan replay: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailed
	}
	fmt.Fprintf(r.stdout, "archive replay %s %s\n", plan.Name, final.State)
	return exitOK
}

// progress prints a progress line at most once a second; run prints the
// last one.
func (r *replayRun) progress(p replay.Progress) {
	r.latest = p
	if r.opts.dryRun || time.Since(r.lastProgress) < time.Second {
		return
	}
	r.lastProgress = time.Now()
	r.printProgress(p.Sent, p.Skipped, p.Total, p.Rate)
}

func (r *replayRun) printProgress(sent, skipped, total int, rate float64) {
	line := fmt.Sprintf("sent %d/%d (%d skipped), %.1f events/s", sent, total, skipped, rate)
	if line != r.lastLine {
		fmt.Fprintln(r.stderr, line)
		r.lastLine = line
	}
}

func (r *replayRun) skip(rec domain.ScanRecord, reason error) {
	fmt.Fprintf(r.stderr, "skip %s: %v\n", rec.Digest, reason)
}

func handlerNames(hs []replay.Handler) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

func eventRepositories(ev events.ScanEvent) string {
	var out []string
	for _, r := range ev.Repositories() {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}
