package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"ecrscanner/events"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/queue"
)

func init() {
	register("backfill", command{
		usage: "scan the images already in ECR that have no fresh scan (repository globs, rate limit, checkpoint, --resume)",
		run:   runBackfill,
	})
}

const backfillUsage = `usage: ecrscan backfill [--repository GLOB]... [options]
       ecrscan backfill --resume CHECKPOINT [--rate N]

Enumerates the registry's repositories (DescribeRepositories) and their
images (DescribeImages), skips what needs no scan, each with its reason
(signatures, SBOMs and attestations; images pushed before --pushed-since;
untagged ones with --tagged-only; digests with a fresh scan or a scan
running), and sends a backfill scan request for each of the rest to the
stack's scan queue, where it meets the same claim, lease and cache as a push.

  --repository GLOB  repositories to backfill, path.Match syntax (repeatable;
                     default "*": every repository)
  --pushed-since T   only images pushed at or after T (RFC 3339, or an age such as 90d)
  --tagged-only      only tagged images
  --max N            enqueue at most N images
  --rate N           requests per second (default 5)
  --dry-run          list what would be queued; send nothing, keep no checkpoint
  --checkpoint PATH  progress file (default .ecrscan-backfill.json)
  --resume PATH      continue an interrupted backfill from its checkpoint
  --stack NAME       the scanner's stack (default $STACK_NAME, else qualys-ecr-scanner)

Exit 0: done. Exit 1: failed. Exit 2: bad usage. Exit 130: interrupted;
resume with --resume.`

type backfillOptions struct {
	cp         backfillCheckpoint
	rate       float64
	dryRun     bool
	checkpoint string
	resume     string
}

func parseBackfillArgs(args []string, now time.Time) (backfillOptions, error) {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o backfillOptions
	var globs listFlag
	var since string
	fs.Var(&globs, "repository", "")
	fs.StringVar(&since, "pushed-since", "", "")
	fs.BoolVar(&o.cp.TaggedOnly, "tagged-only", false, "")
	fs.IntVar(&o.cp.Max, "max", 0, "")
	fs.Float64Var(&o.rate, "rate", 5, "")
	fs.BoolVar(&o.dryRun, "dry-run", false, "")
	fs.StringVar(&o.checkpoint, "checkpoint", ".ecrscan-backfill.json", "")
	fs.StringVar(&o.resume, "resume", "", "")
	fs.StringVar(&o.cp.Stack, "stack", stackFromEnv(), "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.rate <= 0:
		return o, fmt.Errorf("--rate %v must be positive", o.rate)
	case o.cp.Max < 0:
		return o, fmt.Errorf("--max %d must not be negative", o.cp.Max)
	case o.resume != "" && o.dryRun:
		return o, errors.New("--resume continues a real backfill; --dry-run keeps no checkpoint")
	}
	var err error
	if o.cp.PushedSince, err = parseReplayTime(since, now); err != nil {
		return o, fmt.Errorf("--pushed-since: %w", err)
	}
	o.cp.Globs = globs
	if len(o.cp.Globs) == 0 {
		o.cp.Globs = []string{"*"}
	}
	return o, nil
}

func runBackfill(args []string, stdout, stderr io.Writer) int {
	o, err := parseBackfillArgs(args, time.Now())
	if code, done := refusedArgs("backfill", backfillUsage, err, stderr); done {
		return code
	}
	cp := &o.cp
	cp.Skipped = map[string]int{}
	path := o.checkpoint
	if o.resume != "" {
		if cp, err = loadBackfillCheckpoint(o.resume); err != nil {
			fmt.Fprintf(stderr, "ecrscan backfill: %v\n", err)
			return exitFailed
		}
		path = o.resume
		fmt.Fprintf(stdout, "resuming: %d repositories done, %d queued so far\n", len(cp.Done), cp.Enqueued)
	}
	if o.dryRun {
		path = ""
	}
	// SIGINT or SIGTERM stops after the current image; the checkpoint holds
	// everything sent.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBackfiller(ctx, cp, path, o.rate, stdout)
	if err == nil {
		err = b.run(ctx)
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "ecrscan backfill: interrupted; continue with: ecrscan backfill --resume %s\n", path)
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(stderr, "ecrscan backfill: %v\n", err)
		if path != "" {
			fmt.Fprintf(stderr, "continue with: ecrscan backfill --resume %s\n", path)
		}
		return exitFailed
	}
	return exitOK
}

// newBackfiller wires a backfill to the stack named in cp.
func newBackfiller(ctx context.Context, cp *backfillCheckpoint, path string, rate float64, out io.Writer) (*backfiller, error) {
	t, err := loadScanTargets(ctx, cp.Stack)
	if err != nil {
		return nil, err
	}
	lim, err := replay.NewLimiter(rate)
	if err != nil {
		return nil, err
	}
	return &backfiller{
		ecr: t.ecr, store: t.store, account: t.account, region: t.region, cp: cp, path: path, out: out, pageSize: 100, now: time.Now(),
		wait: func(ctx context.Context) error { return lim.Wait(ctx, 1) },
		send: func(ctx context.Context, m events.ScanRequestMessage) error {
			return queue.SendScanRequests(ctx, t.sqs, t.queueURL, []events.ScanRequestMessage{m})
		},
	}, nil
}
