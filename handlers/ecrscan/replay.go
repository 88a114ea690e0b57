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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/domain"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/replay"
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

Re-emits the current outcome of chosen scan records (ScanCompleted, or
ScanFailed for a scan that failed for good) under a replay ID, so that
handlers redo their work instead of deduplicating it away. Events go to the
handlers whose rules match their detail.eventType.

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
  --archive-delay D  how long after --until the archive is taken to hold every
                     event; an archive replay waits until then (default 10m,
                     as EventBridge recommends)

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
	// archiveDelay is how long after the window an archive replay waits.
	archiveDelay time.Duration
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	opts, err := parseReplayArgs(args, time.Now())
	if code, done := refusedArgs("replay", replayUsage, err, stderr); done {
		return code
	}
	// SIGINT or SIGTERM stops the replay after its current batch; the
	// checkpoint holds everything up to the last full page.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &replayRun{opts: opts, stdout: stdout, stderr: stderr}
	return r.run(ctx)
}

// parseReplayArgs reads the command line, fills in the defaults that depend
// on others (a new replay ID, the checkpoint path, the end of an archive
// window) and rejects combinations that make no sense.
func parseReplayArgs(args []string, now time.Time) (replayOptions, error) {
	o, sel, set, err := parseReplayFlags(args)
	if err != nil {
		return o, err
	}
	if err := o.checkPace(); err != nil {
		return o, err
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
	if o.sel, err = sel.selection(now); err != nil {
		return o, err
	}
	if o.fromArchive {
		if err := o.checkArchiveWindow(set["checkpoint"], now); err != nil {
			return o, err
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

// selectionFlags are the selection flags as given.
type selectionFlags struct {
	digests                  listFlag
	repository, since, until string
	all                      bool
}

// parseReplayFlags parses args into options, the selection flags as given
// and the set of flags given.
func parseReplayFlags(args []string) (replayOptions, selectionFlags, map[string]bool, error) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sel selectionFlags
	var handlers listFlag
	fs.Var(&sel.digests, "digest", "")
	fs.StringVar(&sel.repository, "repository", "", "")
	fs.StringVar(&sel.since, "since", "", "")
	fs.StringVar(&sel.until, "until", "", "")
	fs.BoolVar(&sel.all, "all", false, "")
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
	archiveDelay := fs.Duration("archive-delay", replay.ArchiveDelay, "")
	if err := fs.Parse(args); err != nil {
		return replayOptions{}, sel, nil, err
	}
	if fs.NArg() > 0 {
		return replayOptions{}, sel, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o := replayOptions{handlers: handlers, fromArchive: *fromArchive, stack: *stackName, replayID: *replayID,
		dryRun: *dryRun, rate: *rate, checkpoint: *checkpoint, resume: *resume, pageSize: *pageSize, poll: *poll, archiveDelay: *archiveDelay}
	return o, sel, set, nil
}

// checkPace rejects a rate, page size or poll interval that is not positive.
func (o replayOptions) checkPace() error {
	switch {
	case o.rate <= 0:
		return fmt.Errorf("--rate %v must be positive", o.rate)
	case o.pageSize <= 0:
		return fmt.Errorf("--page-size %d must be positive", o.pageSize)
	case o.poll <= 0:
		return fmt.Errorf("--poll %v must be positive", o.poll)
	case o.archiveDelay < 0:
		return fmt.Errorf("--archive-delay %v must not be negative", o.archiveDelay)
	}
	return nil
}

// selection reads the selection flags, times relative to now.
func (f selectionFlags) selection(now time.Time) (replay.Selection, error) {
	sel := replay.Selection{Repository: f.repository, All: f.all}
	for _, d := range f.digests {
		pd, err := domain.ParseDigest(d)
		if err != nil {
			return sel, fmt.Errorf("--digest: %w", err)
		}
		sel.Digests = append(sel.Digests, pd)
	}
	var err error
	if sel.Since, err = parseReplayTime(f.since, now); err != nil {
		return sel, fmt.Errorf("--since: %w", err)
	}
	if sel.Until, err = parseReplayTime(f.until, now); err != nil {
		return sel, fmt.Errorf("--until: %w", err)
	}
	return sel, nil
}

// checkArchiveWindow checks that an archive replay selects a time window
// only, and ends the window now unless --until ends it.
func (o *replayOptions) checkArchiveWindow(checkpointSet bool, now time.Time) error {
	switch {
	case len(o.sel.Digests) > 0 || o.sel.Repository != "" || o.sel.All:
		return errors.New("--from-archive replays a time window of the bus archive: it selects with --since/--until only")
	case o.sel.Since.IsZero():
		return errors.New("--from-archive needs --since (and optionally --until, default now; the replay waits --archive-delay after it)")
	case checkpointSet:
		return errors.New("--from-archive keeps no checkpoint: EventBridge runs the replay")
	}
	if o.sel.Until.IsZero() {
		o.sel.Until = now
	}
	return nil
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
