package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
)

// Config is the scan handler's behaviour that deployments tune.
type Config struct {
	// CacheTTL is how long a completed scan stands for its digest.
	CacheTTL time.Duration
	// MaxAttempts bounds retries of a retryable scan failure.
	MaxAttempts int
	// Platforms are the os/arch pairs to scan in an image index, in order of
	// preference.
	Platforms []string
	// DefaultLease is the lease taken when the context has no deadline (local
	// runs); in Lambda the lease ends with the invocation.
	DefaultLease time.Duration
}

// Handler scans pushed images: one QScanner run per digest, whatever the
// number of pushes and deliveries.
type Handler struct {
	store     domain.ScanStore
	reports   domain.ReportStore
	inspector domain.ImageInspector
	scanner   domain.Scanner
	cfg       Config
	logger    *slog.Logger
	now       func() time.Time
	owner     func(ctx context.Context) string
}

// NewHandler rejects missing dependencies at start-up.
func NewHandler(store domain.ScanStore, reports domain.ReportStore, inspector domain.ImageInspector, scanner domain.Scanner, cfg Config, logger *slog.Logger) (*Handler, error) {
	if store == nil || reports == nil || inspector == nil || scanner == nil || logger == nil {
		return nil, errors.New("scan handler: store, reports, inspector, scanner and logger are required")
	}
	if cfg.CacheTTL <= 0 || cfg.MaxAttempts <= 0 {
		return nil, fmt.Errorf("scan handler: cache TTL (%v) and max attempts (%d) must be positive", cfg.CacheTTL, cfg.MaxAttempts)
	}
	if cfg.DefaultLease <= 0 {
		cfg.DefaultLease = 15 * time.Minute
	}
	return &Handler{
		store: store, reports: reports, inspector: inspector, scanner: scanner, cfg: cfg, logger: logger,
		now:   time.Now,
		owner: func(context.Context) string { return domain.NewID() },
	}, nil
}

// Outcome says what handling one push came to; tests and the local runner
// read it.
type Outcome string

const (
	OutcomeScanned    Outcome = "scanned"
	OutcomeCached     Outcome = "cached"      // digest already scanned; reference recorded
	OutcomeDuplicate  Outcome = "duplicate"   // nothing new to record
	OutcomeInProgress Outcome = "in_progress" // another invocation holds the lease
	OutcomeSkipped    Outcome = "skipped"     // not a push to scan, or not an image
	OutcomeFailed     Outcome = "failed"      // scan failed for good; ScanFailed recorded
	OutcomeRetrying   Outcome = "retrying"    // scan failed; the message will be retried
)

// Handle processes one scan-queue message: an EventBridge push event.
func (h *Handler) Handle(ctx context.Context, m consume.Message) error {
	_, err := h.HandlePush(ctx, []byte(m.Body))
	return err
}

// HandlePush decodes a push event and acts on it.
func (h *Handler) HandlePush(ctx context.Context, body []byte) (Outcome, error) {
	req, err := events.DecodePush(body)
	var skip *events.SkipError
	switch {
	case errors.As(err, &skip):
		h.logger.InfoContext(ctx, "push not scanned", slog.String("reason", skip.Reason))
		return OutcomeSkipped, nil
	case err != nil:
		return "", consume.Permanent(fmt.Errorf("reject event: %w", err))
	}
	return h.Scan(ctx, req.Ref)
}

// Scan brings the record for ref's digest up to date, running QScanner only
// if no valid scan exists and no other invocation is running one.
func (h *Handler) Scan(ctx context.Context, ref domain.ImageRef) (Outcome, error) {
	log := h.logger.With(slog.String("image_digest", ref.Digest.String()), slog.String("repository", ref.Repository), slog.String("tag", ref.Tag))

	info, err := h.inspector.Inspect(ctx, ref)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		log.InfoContext(ctx, "image no longer in the registry; not scanned")
		return OutcomeSkipped, nil
	case err != nil:
		return "", fmt.Errorf("inspect %s: %w", ref.Display(), err)
	case !info.Kind.Scannable():
		log.InfoContext(ctx, "artifact is not an image; not scanned", slog.String("artifact_kind", string(info.Kind)), slog.String("media_type", info.MediaType))
		return OutcomeSkipped, nil
	}

	now := h.now()
	owner := h.owner(ctx)
	leaseUntil := now.Add(h.cfg.DefaultLease)
	if dl, ok := ctx.Deadline(); ok {
		leaseUntil = dl
	}
	var decision domain.Decision
	var scanID string
	err = h.store.Update(ctx, ref.Digest, func(s *domain.Scan) error {
		var err error
		decision, err = s.Claim(domain.Claim{Ref: ref, Owner: owner, Now: now, LeaseUntil: leaseUntil, TraceHeader: traceHeader(ctx), MaxAttempts: h.cfg.MaxAttempts})
		scanID = s.ScanID()
		return err
	})
	switch {
	case errors.Is(err, domain.ErrUnchanged):
		log.InfoContext(ctx, "already recorded; nothing to do")
		return OutcomeDuplicate, nil
	case err != nil:
		return "", fmt.Errorf("claim %s: %w", ref.Digest, err)
	}
	log = log.With(slog.String("scan_id", scanID))
	switch decision {
	case domain.DecideReferenced:
		log.InfoContext(ctx, "cache hit: reference recorded", slog.String("event", string(domain.EventImageReferenced)))
		return OutcomeCached, nil
	case domain.DecideSkip:
		log.InfoContext(ctx, "scan in progress elsewhere; reference queued for it")
		return OutcomeInProgress, nil
	case domain.DecideGaveUp:
		log.WarnContext(ctx, "scan failed for good: every attempt died without a result", slog.String("failure_class", string(domain.FailureCrashed)))
		return OutcomeFailed, nil
	}

	platform, err := info.ChoosePlatform(h.cfg.Platforms)
	if err != nil {
		return h.fail(ctx, log, ref.Digest, owner, scanID, domain.Failure{Class: domain.FailureImageNotFound, Reason: err.Error()}, nil)
	}
	log.InfoContext(ctx, "scan started", slog.String("platform", platform))
	start := h.now()
	report, err := h.scanner.Scan(ctx, domain.ScanTarget{Ref: ref, Platform: platform, Deadline: leaseUntil})
	if err != nil {
		var f domain.Failure
		if !errors.As(err, &f) {
			f = domain.Failure{Class: domain.FailureCrashed, Reason: err.Error()}
		}
		return h.fail(ctx, log, ref.Digest, owner, scanID, f, report)
	}
	if report.Platform == "" {
		report.Platform = platform
	}
	loc, err := h.reports.PutReport(ctx, scanID, report)
	if err != nil {
		return h.fail(ctx, log, ref.Digest, owner, scanID, domain.Failure{Class: domain.FailureInternal, Reason: "store report: " + err.Error()}, nil)
	}
	summary := domain.Summarize(report)
	err = h.store.Update(ctx, ref.Digest, func(s *domain.Scan) error {
		return s.Complete(owner, domain.ScanResult{Summary: summary, Report: loc, Platform: report.Platform, QScannerVersion: report.QScannerVersion}, h.now(), h.cfg.CacheTTL)
	})
	if errors.Is(err, domain.ErrLeaseLost) {
		log.WarnContext(ctx, "lease lost before the result was recorded; the newer scan's result stands")
		return OutcomeInProgress, nil
	}
	if err != nil {
		return "", fmt.Errorf("record scan of %s: %w", ref.Digest, err)
	}
	log.InfoContext(ctx, "scan completed",
		slog.Int64("duration_ms", h.now().Sub(start).Milliseconds()),
		slog.Int("critical", summary.Vulnerabilities.Critical),
		slog.Int("high", summary.Vulnerabilities.High),
		slog.Int("vulnerabilities", summary.Vulnerabilities.Total()),
		slog.Int("secrets", summary.Secrets),
		slog.String("report_key", loc.Key))
	return OutcomeScanned, nil
}

// fail records a failed scan. A partial report (exit 40, policy results) is
// stored and summarized with the failure. A final failure settles the message
// (the ScanFailed event tells people); a retryable one returns an error so SQS
// redelivers the push.
func (h *Handler) fail(ctx context.Context, log *slog.Logger, d domain.Digest, owner, scanID string, f domain.Failure, partial *domain.Report) (Outcome, error) {
	var res *domain.ScanResult
	if partial != nil {
		if loc, err := h.reports.PutReport(ctx, scanID, partial); err == nil {
			res = &domain.ScanResult{Summary: domain.Summarize(partial), Report: loc, Platform: partial.Platform, QScannerVersion: partial.QScannerVersion}
		} else {
			log.WarnContext(ctx, "partial report not stored", slog.String("error", err.Error()))
		}
	}
	var final bool
	err := h.store.Update(ctx, d, func(s *domain.Scan) error {
		var err error
		final, err = s.Fail(owner, f, res, h.cfg.MaxAttempts, h.now(), h.cfg.CacheTTL)
		return err
	})
	if errors.Is(err, domain.ErrLeaseLost) {
		log.WarnContext(ctx, "lease lost before the failure was recorded", slog.String("failure", f.Error()))
		return OutcomeInProgress, nil
	}
	if err != nil {
		return "", fmt.Errorf("record failed scan of %s (%v): %w", d, f, err)
	}
	log.WarnContext(ctx, "scan failed", slog.String("failure_class", string(f.Class)), slog.Int("exit_code", f.ExitCode), slog.String("reason", f.Reason), slog.Bool("final", final))
	if final {
		return OutcomeFailed, nil
	}
	return OutcomeRetrying, fmt.Errorf("scan %s: %w (will retry)", d, f)
}

// traceHeader is the X-Ray trace header Lambda put on the invocation's
// context, stored on the record so downstream handlers join the same trace.
func traceHeader(ctx context.Context) string {
	if v, ok := ctx.Value("x-amzn-trace-id").(string); ok {
		return v
	}
	return ""
}
