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
	"ecrscanner/infra/attr"
	"ecrscanner/infra/metrics"
	"ecrscanner/infra/tracing"
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
	OutcomeWaiting    Outcome = "waiting"     // an index waits for its platform image's scan; retried
)

// platformImageScan returns the completed scan of the image an index would
// be scanned through, if its own push already had it scanned. While that
// scan is still running it returns a retryable error, so the index's message
// comes back once the scan is done rather than scanning the same content
// again. nil, nil: scan the index as usual (or it is no index).
func (h *Handler) platformImageScan(ctx context.Context, info domain.ImageInfo, platform string, now time.Time) (*domain.Scan, error) {
	child, ok := info.Children[platform]
	if info.Kind != domain.ArtifactIndex || !ok {
		return nil, nil
	}
	s, err := h.store.Get(ctx, child)
	switch {
	case err != nil:
		return nil, nil // not pushed on its own (or unreadable): scan the index
	case s.InProgress(now):
		return nil, fmt.Errorf("the %s image %s is being scanned", platform, child)
	}
	if _, ok := s.Result(now); ok {
		return s, nil
	}
	return nil, nil
}

// Handle processes one scan-queue message: an EventBridge push event.
func (h *Handler) Handle(ctx context.Context, m consume.Message) error {
	_, err := h.HandlePush(ctx, []byte(m.Body))
	return err
}

// HandlePush decodes a push event and acts on it.
func (h *Handler) HandlePush(ctx context.Context, body []byte) (Outcome, error) {
	_, span := startSpan(ctx, "decode", domain.ImageRef{}, "")
	req, err := events.DecodePush(body)
	var skip *events.SkipError
	switch {
	case errors.As(err, &skip):
		span.End(nil)
		h.logger.InfoContext(ctx, "push not scanned", slog.String(attr.Reason, skip.Reason))
		return OutcomeSkipped, nil
	case err != nil:
		err = consume.Permanent(fmt.Errorf("reject event: %w", err))
		span.Reject(err)
		return "", err
	}
	annotateRef(span, req.Ref)
	span.End(nil)
	return h.Scan(ctx, req.Ref)
}

// Scan brings the record for ref's digest up to date, running QScanner only
// if no valid scan exists and no other invocation is running one.
func (h *Handler) Scan(ctx context.Context, ref domain.ImageRef) (Outcome, error) {
	log := h.logger.With(slog.String(attr.ImageDigest, ref.Digest.String()), slog.String(attr.Repository, ref.Repository), slog.String(attr.Tag, ref.Tag))

	inspectCtx, span := startSpan(ctx, "inspect", ref, "")
	info, err := h.inspector.Inspect(inspectCtx, ref)
	span.End(unless(err, domain.ErrNotFound))
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
	// A platform missing from an index is recorded as the scan's failure,
	// after the claim.
	platform, platformErr := info.ChoosePlatform(h.cfg.Platforms)
	// A multi-platform push also pushes each platform's image, and those
	// pushes come first. The index's scan is that platform image's scan:
	// reuse it, or wait while it runs, so one content is scanned once.
	platformImage, err := h.platformImageScan(ctx, info, platform, now)
	if err != nil {
		log.InfoContext(ctx, "index waits for the scan of its platform image", slog.String(attr.Reason, err.Error()))
		return OutcomeWaiting, err
	}
	owner := h.owner(ctx)
	leaseUntil := now.Add(h.cfg.DefaultLease)
	if dl, ok := ctx.Deadline(); ok {
		leaseUntil = dl
	}
	var decision domain.Decision
	var scanID string
	claimCtx, span := startSpan(ctx, "cache claim", ref, "")
	err = h.store.Update(claimCtx, ref.Digest, func(s *domain.Scan) error {
		var err error
		decision, err = s.Claim(domain.Claim{Ref: ref, Owner: owner, Now: now, LeaseUntil: leaseUntil, TraceHeader: traceHeader(ctx), MaxAttempts: h.cfg.MaxAttempts})
		scanID = s.ScanID()
		return err
	})
	span.Annotate(attr.ScanID, scanID)
	span.Annotate("decision", decision.String())
	span.End(unless(err, domain.ErrUnchanged))
	switch {
	case errors.Is(err, domain.ErrUnchanged):
		log.InfoContext(ctx, "already recorded; nothing to do")
		return OutcomeDuplicate, nil
	case err != nil:
		return "", fmt.Errorf("claim %s: %w", ref.Digest, err)
	}
	log = log.With(slog.String(attr.ScanID, scanID))
	switch decision {
	case domain.DecideReferenced:
		log.InfoContext(ctx, "cache hit: reference recorded", slog.String("event", string(domain.EventImageReferenced)))
		metrics.Emit(ctx, h.logger, h.now(), metrics.Metric{Name: "CacheHit", Value: 1, Unit: metrics.Count})
		return OutcomeCached, nil
	case domain.DecideSkip:
		log.InfoContext(ctx, "scan in progress elsewhere; reference queued for it")
		return OutcomeInProgress, nil
	case domain.DecideGaveUp:
		log.WarnContext(ctx, "scan failed for good: every attempt died without a result", slog.String(attr.FailureClass, string(domain.FailureCrashed)))
		metrics.Emit(ctx, h.logger, h.now(), metrics.Metric{Name: "ScanFailed", Value: 1, Unit: metrics.Count})
		return OutcomeFailed, nil
	}

	if platformErr != nil {
		return h.fail(ctx, log, ref.Digest, owner, scanID, domain.Failure{Class: domain.FailureImageNotFound, Reason: platformErr.Error()}, nil)
	}
	if platformImage != nil {
		res, _ := platformImage.Result(now)
		err := h.store.Update(ctx, ref.Digest, func(s *domain.Scan) error {
			return s.Complete(owner, res, h.now(), h.cfg.CacheTTL)
		})
		if errors.Is(err, domain.ErrLeaseLost) {
			return OutcomeInProgress, nil
		}
		if err != nil {
			return "", fmt.Errorf("record scan of %s: %w", ref.Digest, err)
		}
		log.InfoContext(ctx, "index recorded with the scan of its platform image; QScanner not run again",
			slog.String(attr.Platform, platform), slog.String("platform_image", platformImage.Digest().String()))
		metrics.Emit(ctx, h.logger, h.now(), metrics.Metric{Name: "CacheHit", Value: 1, Unit: metrics.Count})
		return OutcomeCached, nil
	}
	log.InfoContext(ctx, "scan started", slog.String(attr.Platform, platform))
	start := h.now()
	runCtx, span := startSpan(ctx, "qscanner run", ref, scanID)
	report, err := h.scanner.Scan(runCtx, domain.ScanTarget{Ref: ref, Platform: platform, Deadline: leaseUntil})
	span.End(err)
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
	uploadCtx, span := startSpan(ctx, "report upload", ref, scanID)
	loc, err := h.reports.PutReport(uploadCtx, scanID, report)
	span.End(err)
	if err != nil {
		return h.fail(ctx, log, ref.Digest, owner, scanID, domain.Failure{Class: domain.FailureInternal, Reason: "store report: " + err.Error()}, nil)
	}
	summary := domain.Summarize(report)
	writeCtx, span := startSpan(ctx, "record write", ref, scanID)
	err = h.store.Update(writeCtx, ref.Digest, func(s *domain.Scan) error {
		return s.Complete(owner, domain.ScanResult{Summary: summary, Report: loc, Platform: report.Platform, QScannerVersion: report.QScannerVersion}, h.now(), h.cfg.CacheTTL)
	})
	span.End(unless(err, domain.ErrLeaseLost))
	if errors.Is(err, domain.ErrLeaseLost) {
		log.WarnContext(ctx, "lease lost before the result was recorded; the newer scan's result stands")
		return OutcomeInProgress, nil
	}
	if err != nil {
		return "", fmt.Errorf("record scan of %s: %w", ref.Digest, err)
	}
	took := h.now().Sub(start)
	v := summary.Vulnerabilities
	metrics.Emit(ctx, h.logger, h.now(),
		metrics.Metric{Name: "ScanCompleted", Value: 1, Unit: metrics.Count},
		metrics.Metric{Name: "ScanDurationMs", Value: float64(took.Milliseconds()), Unit: metrics.Milliseconds},
		metrics.Metric{Name: "FindingsCritical", Value: float64(v.Critical), Unit: metrics.Count},
		metrics.Metric{Name: "FindingsHigh", Value: float64(v.High), Unit: metrics.Count},
		metrics.Metric{Name: "FindingsMedium", Value: float64(v.Medium), Unit: metrics.Count},
		metrics.Metric{Name: "FindingsLow", Value: float64(v.Low), Unit: metrics.Count},
		metrics.Metric{Name: "Secrets", Value: float64(summary.Secrets), Unit: metrics.Count})
	log.InfoContext(ctx, "scan completed",
		slog.Int64(attr.DurationMS, took.Milliseconds()),
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
	ref := domain.ImageRef{Digest: d}
	var res *domain.ScanResult
	if partial != nil {
		uploadCtx, span := startSpan(ctx, "report upload", ref, scanID)
		loc, err := h.reports.PutReport(uploadCtx, scanID, partial)
		span.End(err)
		if err == nil {
			res = &domain.ScanResult{Summary: domain.Summarize(partial), Report: loc, Platform: partial.Platform, QScannerVersion: partial.QScannerVersion}
		} else {
			log.WarnContext(ctx, "partial report not stored", attr.Err(err))
		}
	}
	var final bool
	writeCtx, span := startSpan(ctx, "record write", ref, scanID)
	span.Annotate(attr.FailureClass, string(f.Class))
	err := h.store.Update(writeCtx, d, func(s *domain.Scan) error {
		var err error
		final, err = s.Fail(owner, f, res, h.cfg.MaxAttempts, h.now(), h.cfg.CacheTTL)
		return err
	})
	span.End(unless(err, domain.ErrLeaseLost))
	if errors.Is(err, domain.ErrLeaseLost) {
		// Either another invocation took the scan over, or our own write
		// landed and only its reply was lost (the store then re-applied
		// Fail to the failed record). In the second case the retry must
		// still happen.
		if rec, gerr := h.store.Get(ctx, d); gerr == nil && rec.ScanID() == scanID && rec.Status() == domain.StatusFailed {
			if r := rec.Record(); !r.FinalFailure {
				return OutcomeRetrying, fmt.Errorf("scan %s: %w (will retry)", d, f)
			}
			return OutcomeFailed, nil
		}
		log.WarnContext(ctx, "lease lost before the failure was recorded", slog.String("failure", f.Error()))
		return OutcomeInProgress, nil
	}
	if err != nil {
		return "", fmt.Errorf("record failed scan of %s (%v): %w", d, f, err)
	}
	log.WarnContext(ctx, "scan failed", slog.String(attr.FailureClass, string(f.Class)), slog.Int("exit_code", f.ExitCode), slog.String(attr.Reason, f.Reason), slog.Bool("final", final))
	if final {
		metrics.Emit(ctx, h.logger, h.now(), metrics.Metric{Name: "ScanFailed", Value: 1, Unit: metrics.Count})
	}
	if final {
		return OutcomeFailed, nil
	}
	return OutcomeRetrying, fmt.Errorf("scan %s: %w (will retry)", d, f)
}

// traceHeader is the trace header Lambda gave the invocation, in full
// (Root=…;Parent=…;Sampled=…), stored on the record so that downstream
// handlers continue the same trace under this function's segment.
func traceHeader(ctx context.Context) string { return tracing.InvocationHeader(ctx) }

// startSpan opens a span for one step of handling a push, in the
// invocation's trace, annotated with what is known of the scan so far.
func startSpan(ctx context.Context, name string, ref domain.ImageRef, scanID string) (context.Context, *tracing.Span) {
	ctx, span := tracing.Start(ctx, name)
	span.Annotate(attr.Handler, "scan")
	annotateRef(span, ref)
	if scanID != "" {
		span.Annotate(attr.ScanID, scanID)
	}
	return ctx, span
}

func annotateRef(span *tracing.Span, ref domain.ImageRef) {
	if ref.Digest != "" {
		span.Annotate(attr.ImageDigest, ref.Digest.String())
	}
	if ref.Repository != "" {
		span.Annotate(attr.Repository, ref.Repository)
	}
}

// unless is err, or nil when err is the expected outcome target, which is
// handled and is no failure of the step.
func unless(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return err
}
