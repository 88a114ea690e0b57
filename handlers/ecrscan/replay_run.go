package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/ops/stack"
)

// replayRun is one replay command.
type replayRun struct {
	opts           replayOptions
	stdout, stderr io.Writer
	lastProgress   time.Time
	lastLine       string
	latest         replay.Progress
	// plan is the table a dry run prints.
	plan *tabwriter.Writer
}

func (r *replayRun) fail(format string, a ...any) int {
	fmt.Fprintf(r.stderr, "ecrscan replay: "+format+"\n", a...)
	return exitFailed
}

// run replays from the scans table, or has EventBridge replay the bus
// archive, and returns the exit code.
func (r *replayRun) run(ctx context.Context) int {
	cp, err := r.startCheckpoint()
	if err != nil {
		fmt.Fprintf(r.stderr, "ecrscan replay: %v\n", err)
		return exitUsage
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
	runner, target, err := r.newRunner(ctx, cfg, eb, st, chosen)
	if err != nil {
		return r.fail("%v", err)
	}
	start := time.Now()
	cp, err = runner.Run(ctx, cp)
	if r.plan != nil {
		r.plan.Flush()
	}
	if err != nil {
		return r.stopped(ctx, cp, err)
	}
	return r.finish(cp, target, time.Since(start))
}

// startCheckpoint loads the checkpoint to resume, taking the replay's
// settings from it, or starts a new one; it says which replay runs.
func (r *replayRun) startCheckpoint() (replay.Checkpoint, error) {
	if r.opts.resume == "" {
		fmt.Fprintf(r.stdout, "replay id: %s\n", r.opts.replayID)
		return replay.Checkpoint{ReplayID: r.opts.replayID, Stack: r.opts.stack, Selection: r.opts.sel, Handlers: r.opts.handlers}, nil
	}
	cp, err := replay.LoadCheckpoint(r.opts.resume)
	if err != nil {
		return cp, err
	}
	r.opts.replayID, r.opts.stack, r.opts.sel, r.opts.handlers = cp.ReplayID, cp.Stack, cp.Selection, cp.Handlers
	r.opts.checkpoint = r.opts.resume
	fmt.Fprintf(r.stdout, "replay id: %s (resumed from %s: %d sent, %d skipped so far)\n", cp.ReplayID, r.opts.resume, cp.Sent, cp.Skipped)
	return cp, nil
}

// newRunner sets up a replay from the scans table: what it reads, where it
// sends, at what pace and where it keeps its checkpoint. It also returns
// the target as the summary names it.
func (r *replayRun) newRunner(ctx context.Context, cfg aws.Config, eb *eventbridge.Client, st replay.Stack, chosen []replay.Handler) (*replay.Runner, string, error) {
	routes, err := replay.LoadRoutes(ctx, eb, st, chosen)
	if err != nil {
		return nil, "", err
	}
	source, err := replay.NewSource(dynamodb.NewFromConfig(cfg), st.ScansTable, r.opts.sel, r.opts.pageSize)
	if err != nil {
		return nil, "", err
	}
	runner := &replay.Runner{Source: source, Progress: r.progress, Skip: r.skip}
	target := fmt.Sprintf("the %s bus (handlers: %s)", st.Bus, strings.Join(st.HandlerNames(), ", "))
	if len(r.opts.handlers) > 0 {
		target = "the queues of " + strings.Join(handlerNames(chosen), ", ")
	}
	if runner.Sink, err = r.sink(cfg, eb, st, routes, target); err != nil {
		return nil, "", err
	}
	if r.opts.dryRun {
		return runner, target, nil
	}
	if runner.Limiter, err = replay.NewLimiter(r.opts.rate); err != nil {
		return nil, "", err
	}
	path := r.opts.checkpoint
	runner.Save = func(cp replay.Checkpoint) error { return replay.SaveCheckpoint(path, cp) }
	return runner, target, nil
}

// sink is where the events go: a table of what would be sent (a dry run),
// the chosen handlers' queues, or the bus.
func (r *replayRun) sink(cfg aws.Config, eb *eventbridge.Client, st replay.Stack, routes []replay.Route, target string) (replay.Sink, error) {
	switch {
	case r.opts.dryRun:
		fmt.Fprintf(r.stdout, "dry run: nothing is sent; would send to %s\n", target)
		table := tabwriter.NewWriter(r.stdout, 0, 4, 2, ' ', 0)
		r.plan = table
		fmt.Fprintln(table, "DIGEST\tEVENT\tREPOSITORIES\tHANDLERS")
		return replay.PlanSink{Routes: routes, Account: st.Account, Region: st.Region, Report: func(ev events.ScanEvent, hs []string) {
			h := strings.Join(hs, ",")
			if h == "" {
				h = "none (no chosen handler subscribes)"
			}
			fmt.Fprintf(table, "%s\t%s\t%s\t%s\n", ev.Digest, ev.EventType, eventRepositories(ev), h)
		}}, nil
	case len(r.opts.handlers) > 0:
		return replay.NewQueueSink(sqs.NewFromConfig(cfg), routes, st.Account, st.Region)
	}
	return replay.NewBusSink(eb, st.Bus)
}

// stopped reports a replay that ended early, by interruption or failure,
// with how to resume it.
func (r *replayRun) stopped(ctx context.Context, cp replay.Checkpoint, err error) int {
	switch {
	case r.opts.dryRun:
		fmt.Fprintf(r.stderr, "ecrscan replay: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailed
	case ctx.Err() != nil && cp.Started.IsZero():
		fmt.Fprintln(r.stderr, "ecrscan replay: interrupted before anything was sent")
		return exitInterrupted
	case ctx.Err() != nil:
		r.printProgress(cp.Sent, cp.Skipped, cp.Total, r.latest.Rate)
		fmt.Fprintf(r.stderr, "ecrscan replay: interrupted after %d events; resume with: ecrscan replay --resume %s\n", cp.Sent, r.opts.checkpoint)
		return exitInterrupted
	}
	fmt.Fprintf(r.stderr, "ecrscan replay: %v\n", err)
	if !cp.Started.IsZero() {
		fmt.Fprintf(r.stderr, "ecrscan replay: %d events sent before the failure; resume with: ecrscan replay --resume %s\n", cp.Sent, r.opts.checkpoint)
	}
	return exitFailed
}

// finish reports a replay that ran to its end and drops its checkpoint.
// Digests selected by name without a record make it a failure.
func (r *replayRun) finish(cp replay.Checkpoint, target string, took time.Duration) int {
	if r.opts.dryRun {
		fmt.Fprintf(r.stdout, "would send %d event(s) to %s (%d skipped)\n", cp.Sent, target, cp.Skipped)
	} else {
		r.printProgress(cp.Sent, cp.Skipped, cp.Total, r.latest.Rate)
		if err := os.Remove(r.opts.checkpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(r.stderr, "ecrscan replay: remove checkpoint: %v\n", err)
		}
		fmt.Fprintf(r.stdout, "sent %d event(s) to %s (%d skipped) in %.1fs\n", cp.Sent, target, cp.Skipped, took.Seconds())
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
	if err := plan.WaitForArchive(ctx, r.opts.archiveDelay, time.Minute, func(left time.Duration) {
		fmt.Fprintf(r.stderr, "replay %s: waiting %s for the archive to catch up with events up to %s (--archive-delay %s)\n",
			plan.Name, left.Round(time.Second), plan.Until.UTC().Format(time.RFC3339), r.opts.archiveDelay)
	}); err != nil {
		fmt.Fprintf(r.stderr, "ecrscan replay: %v\n", err)
		return exitInterrupted
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
