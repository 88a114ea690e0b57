package main

import (
	"ecrscanner/infra/clock"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
)

// Config is what deployments tune (template parameters RescanAfterDays,
// RescanWindowDays, RescanRatePerMinute).
type Config struct {
	// RescanAfter is how old a completed scan must be to be due.
	RescanAfter time.Duration
	// Window: only images pushed or pulled within it are rescanned.
	Window time.Duration
	// PerMinute is how many rescans the sweep enqueues per minute at most,
	// which bounds the scan function's extra load.
	PerMinute int
	// Reserve is the time kept back from the invocation's deadline; the
	// sweep stops enqueuing then and the next run carries on.
	Reserve time.Duration
}

// Ports the sweep uses.
type (
	dueSource interface {
		Each(ctx context.Context, shard int, cutoff time.Time, fn func(dynamostore.DueScan) error) error
	}
	usageSource interface {
		Describe(ctx context.Context, account, region, repository string, digests []domain.Digest) (map[domain.Digest]ecrstore.Usage, error)
	}
	requestSender interface {
		Send(ctx context.Context, msgs []events.ScanRequestMessage) error
	}
)

// Sweeper selects the digests due for a rescan and enqueues rescans.
type Sweeper struct {
	due    dueSource
	usage  usageSource
	send   requestSender
	cfg    Config
	logger *slog.Logger
	sleep  func(context.Context, time.Duration) error
}

// NewSweeper rejects missing dependencies and settings.
func NewSweeper(due dueSource, usage usageSource, send requestSender, cfg Config, logger *slog.Logger) (*Sweeper, error) {
	if due == nil || usage == nil || send == nil || logger == nil {
		return nil, errors.New("sweep: due scans, image usage, sender and logger are required")
	}
	if cfg.RescanAfter <= 0 || cfg.Window <= 0 || cfg.PerMinute <= 0 {
		return nil, fmt.Errorf("sweep: rescan after (%v), window (%v) and rate (%d/min) must be positive", cfg.RescanAfter, cfg.Window, cfg.PerMinute)
	}
	return &Sweeper{due: due, usage: usage, send: send, cfg: cfg, logger: logger, sleep: clock.Sleep}, nil
}

// Report is what one run did; the function returns it and logs it.
type Report struct {
	Due      int            `json:"due"`
	Enqueued int            `json:"enqueued"`
	Skipped  map[string]int `json:"skipped"` // by reason
	// Stopped says the run ended before reading every due record (time or
	// rate budget): the rest stay due in the index and the next run reads
	// them. Nothing is lost, and a request sent twice is harmless (see
	// domain.Origin.NotBefore).
	Stopped string `json:"stopped,omitempty"`
}

// Skip reasons.
const (
	SkipNoReference = "no reference recorded"
	SkipDeleted     = "no longer in ECR"
	SkipArtifact    = "not an image (signature, SBOM or attestation)"
	SkipIdle        = "not pushed or pulled within RescanWindowDays"
	SkipUnreachable = "registry not reachable through the spoke role"
)

// errBudget stops a run that has used its time or rate budget.
var errBudget = errors.New("budget used")

// batchSize is how many due records are checked against ECR at once: one
// DescribeImages per repository among them (ECR's limit is 100 image IDs).
const batchSize = 100

// Run sweeps every shard of the index once, starting at a shard that
// rotates with the hour so that a run cut short does not always starve the
// same shards.
func (s *Sweeper) Run(ctx context.Context, now time.Time) (Report, error) {
	rep := Report{Skipped: map[string]int{}}
	run := &sweepRun{Sweeper: s, rep: &rep, now: now, cutoff: now.Add(-s.cfg.RescanAfter), windowStart: now.Add(-s.cfg.Window), unreachable: map[repoKey]bool{}}
	run.budget = s.budget(ctx, now)
	if run.budget == 0 {
		// Reading the index would cost reads for nothing: no rescan could
		// be sent before the deadline.
		rep.Stopped = "no time left before the deadline (less the reserve): nothing read"
		s.logger.WarnContext(ctx, "sweep skipped", slog.String("stopped", rep.Stopped))
		return rep, nil
	}
	first := int(now.Unix()/3600) % domain.RescanShards
	for i := range domain.RescanShards {
		shard := (first + i) % domain.RescanShards
		var batch []dynamostore.DueScan
		err := s.due.Each(ctx, shard, run.cutoff, func(d dynamostore.DueScan) error {
			rep.Due++
			if batch = append(batch, d); len(batch) == batchSize {
				err := run.flush(ctx, batch)
				batch = batch[:0]
				return err
			}
			return nil
		})
		if err == nil {
			err = run.flush(ctx, batch)
		}
		if errors.Is(err, errBudget) {
			rep.Stopped = fmt.Sprintf("stopped in shard %d after %d rescans: the rest stay due for the next run", shard, rep.Enqueued)
			break
		}
		if err != nil {
			return rep, err
		}
	}
	s.logger.InfoContext(ctx, "sweep done", slog.Int("due", rep.Due), slog.Int("enqueued", rep.Enqueued), slog.Any("skipped", rep.Skipped), slog.String("stopped", rep.Stopped))
	return rep, nil
}

// budget is how many rescans this run may enqueue: the rate over the time
// left before the deadline (less the reserve), or over a minute without one.
func (s *Sweeper) budget(ctx context.Context, now time.Time) int {
	left := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		left = dl.Sub(now) - s.cfg.Reserve
	}
	return max(0, int(left.Minutes()*float64(s.cfg.PerMinute)))
}

type sweepRun struct {
	*Sweeper
	rep                 *Report
	now                 time.Time
	cutoff, windowStart time.Time
	budget              int
	unreachable         map[repoKey]bool // member registries whose spoke role failed this run
}

// flush checks a batch of due records against ECR and enqueues the rescans
// of those still in use, at the configured rate.
func (r *sweepRun) flush(ctx context.Context, batch []dynamostore.DueScan) error {
	if len(batch) == 0 {
		return nil
	}
	usage, err := r.lookUp(ctx, batch)
	if err != nil {
		return err
	}
	var msgs []events.ScanRequestMessage
	for _, d := range batch {
		ref, reason := r.choose(d, usage)
		if reason != "" {
			r.rep.Skipped[reason]++
			r.logger.DebugContext(ctx, "not rescanned", slog.String(attr.ImageDigest, d.Digest.String()), slog.String(attr.Reason, reason))
			continue
		}
		if r.rep.Enqueued+len(msgs) >= r.budget {
			if err := r.enqueue(ctx, msgs); err != nil {
				return err
			}
			return errBudget
		}
		m := events.NewScanRequest(domain.CauseRescan, ref, "sweep", r.now, false)
		// Any scan started after the cutoff serves this request: a run
		// that sends it again, or a push meanwhile, causes no second scan.
		m.NotBefore = r.cutoff
		msgs = append(msgs, m)
	}
	return r.enqueue(ctx, msgs)
}

// enqueue sends msgs, pacing them at the configured rate.
func (r *sweepRun) enqueue(ctx context.Context, msgs []events.ScanRequestMessage) error {
	const perCall = 10
	gap := time.Minute * perCall / time.Duration(r.cfg.PerMinute)
	for start := 0; start < len(msgs); start += perCall {
		part := msgs[start:min(start+perCall, len(msgs))]
		if err := r.send.Send(ctx, part); err != nil {
			return err
		}
		r.rep.Enqueued += len(part)
		if start+perCall < len(msgs) {
			if err := r.sleep(ctx, gap); err != nil {
				return err
			}
		}
	}
	return nil
}
