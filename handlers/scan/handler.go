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
	reports   reportStore
	inspector domain.ImageInspector
	scanner   domain.Scanner
	cfg       Config
	logger    *slog.Logger
	metrics   *metrics.Publisher
	now       func() time.Time
	owner     func(ctx context.Context) string
	org       Organization // see registry.go
}

// NewHandler rejects missing dependencies at start-up.
func NewHandler(store domain.ScanStore, reports reportStore, inspector domain.ImageInspector, scanner domain.Scanner, cfg Config, logger *slog.Logger) (*Handler, error) {
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
		metrics: metrics.Stdout(),
		now:     time.Now,
		owner:   func(context.Context) string { return domain.NewID() },
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
	_, err := h.HandlePush(withRequest(ctx, m.ID), []byte(m.Body))
	return err
}

// HandlePush decodes a scan-queue message (a push event, or a rescan,
// backfill or manual scan request) and acts on it.
func (h *Handler) HandlePush(ctx context.Context, body []byte) (Outcome, error) {
	_, span := startSpan(ctx, "decode", domain.ImageRef{}, "")
	req, err := events.DecodeScanMessage(body)
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
	if err := h.refuse(ctx, req.Ref); err != nil {
		return OutcomeRefused, err
	}
	return h.scan(ctx, req.Ref, originOf(req))
}

// Scan brings the record for ref's digest up to date, running QScanner only
// if no valid scan exists and no other invocation is running one.
func (h *Handler) Scan(ctx context.Context, ref domain.ImageRef) (Outcome, error) {
	return h.scan(ctx, ref, domain.Origin{Cause: domain.CausePush})
}

func (h *Handler) scan(ctx context.Context, ref domain.ImageRef, origin domain.Origin) (Outcome, error) {
	log := h.logger.With(slog.String(attr.ImageDigest, ref.Digest.String()), slog.String(attr.Repository, ref.Repository), slog.String(attr.Tag, ref.Tag), slog.String("cause", string(origin.Cause.OrPush())))
	info, out, err := h.inspect(ctx, log, ref)
	if out, ok, err := h.spokeRoleFailed(ctx, ref, log, err); ok {
		return out, err
	}
	if out != "" || err != nil {
		return out, err
	}
	now := h.now()
	// A platform missing from an index is recorded as the scan's failure,
	// after the claim.
	platform, platformErr := info.ChoosePlatform(h.cfg.Platforms)
	// A multi-platform push also pushes each platform's image, and those
	// pushes come first. The index's scan is that platform image's scan:
	// reuse it, or wait while it runs, so one content is scanned once.
	platformImage, err := h.platformImageScan(ctx, info, platform, now)
	platformImage = freshEnough(platformImage, origin)
	if err != nil {
		log.InfoContext(ctx, "index waits for the scan of its platform image", slog.String(attr.Reason, err.Error()))
		return OutcomeWaiting, err
	}
	a := h.newAttempt(ctx, ref, log, now)
	a.origin = origin
	if out, err := h.claim(ctx, a); out != "" || err != nil {
		return out, err
	}
	out, err = h.work(ctx, a, platform, platformErr, platformImage)
	if err != nil && !a.leaseEnded && !consume.IsPermanent(err) {
		// The message comes back: let its retry take over now, not when
		// the lease expires (see release).
		h.release(ctx, a, err)
	}
	return out, err
}

// work does what the claim decided, holding a's lease.
func (h *Handler) work(ctx context.Context, a *attempt, platform string, platformErr error, platformImage *domain.Scan) (Outcome, error) {
	switch {
	case a.stored != nil:
		return h.record(ctx, a)
	case platformErr != nil:
		return h.fail(ctx, a, domain.Failure{Class: domain.FailureImageNotFound, Reason: platformErr.Error()}, nil)
	case platformImage != nil:
		return h.reuse(ctx, a, platformImage, platform)
	}
	return h.run(ctx, a, platform)
}

// attempt is one invocation's work on a digest from the claim on.
type attempt struct {
	ref        domain.ImageRef
	log        *slog.Logger
	now        time.Time
	owner      string    // who holds the lease
	leaseUntil time.Time // when it ends; QScanner must be done by then
	request    string    // the queue message served, across redeliveries; "" when unknown
	scanID     string    // known once claimed
	// stored is the scan's result once its report is stored: an earlier
	// attempt's (the claim decided DecideRecord), or this attempt's after
	// the upload. A release hands it to the next attempt.
	stored *domain.ScanResult
	// leaseEnded is set once a write that ends the lease (Fail) landed, or
	// the lease turned out to be someone else's: nothing left to release.
	leaseEnded bool
	// earlier is the scan ID of an attempt this one took over, whose
	// report may be stored though its result was never recorded.
	earlier string
	// origin is what asked for the scan; previous the completed scan this
	// one replaces, whose report the result is compared with (rescan.go).
	origin   domain.Origin
	previous *domain.PreviousScan
}

func (h *Handler) newAttempt(ctx context.Context, ref domain.ImageRef, log *slog.Logger, now time.Time) *attempt {
	a := &attempt{ref: ref, log: log, now: now, owner: h.owner(ctx), leaseUntil: now.Add(h.cfg.DefaultLease), request: requestFrom(ctx)}
	if dl, ok := ctx.Deadline(); ok {
		a.leaseUntil = dl
	}
	return a
}

// inspect reads what ref is. An image gone from the registry, or an artifact
// that is not an image, ends the push as OutcomeSkipped; an empty outcome
// and a nil error mean scan on.
func (h *Handler) inspect(ctx context.Context, log *slog.Logger, ref domain.ImageRef) (domain.ImageInfo, Outcome, error) {
	var info domain.ImageInfo
	err := step(ctx, "inspect", ref, "", func(ctx context.Context, _ *tracing.Span) (err error) {
		info, err = h.inspector.Inspect(ctx, ref)
		return err
	}, domain.ErrNotFound)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		log.InfoContext(ctx, "image no longer in the registry; not scanned")
		return info, OutcomeSkipped, nil
	case err != nil:
		return info, "", fmt.Errorf("inspect %s: %w", ref.Display(), err)
	case !info.Kind.Scannable():
		log.InfoContext(ctx, "artifact is not an image; not scanned", slog.String("artifact_kind", string(info.Kind)), slog.String("media_type", info.MediaType))
		return info, OutcomeSkipped, nil
	}
	return info, "", nil
}

// claim takes the digest's lease for a, or records the push against the
// scan that stands or runs, which ends it. An empty outcome and a nil error
// mean a holds the lease and a.scanID names its scan.
func (h *Handler) claim(ctx context.Context, a *attempt) (Outcome, error) {
	var decision domain.Decision
	err := step(ctx, "cache claim", a.ref, "", func(ctx context.Context, span *tracing.Span) error {
		err := h.store.Update(ctx, a.ref.Digest, func(s *domain.Scan) error {
			var err error
			// A scan still marked running belongs to an attempt that died
			// (or gave its lease up) with or without a stored report.
			a.earlier = ""
			if s.Status() == domain.StatusScanning {
				a.earlier = s.ScanID()
			}
			decision, err = s.Claim(domain.Claim{Ref: a.ref, Owner: a.owner, Request: a.request, Now: a.now, LeaseUntil: a.leaseUntil, TraceHeader: traceHeader(ctx, span), MaxAttempts: h.cfg.MaxAttempts, Origin: a.origin})
			a.scanID = s.ScanID()
			a.previous = previousOf(s)
			a.stored = nil
			if res, ok := s.StoredResult(); ok && decision == domain.DecideRecord {
				a.stored = &res
			}
			return err
		})
		span.Annotate(attr.ScanID, a.scanID)
		span.Annotate("decision", decision.String())
		return err
	}, domain.ErrUnchanged)
	switch {
	case errors.Is(err, domain.ErrUnchanged):
		a.log.InfoContext(ctx, "already recorded; nothing to do")
		return OutcomeDuplicate, nil
	case err != nil:
		return "", fmt.Errorf("claim %s: %w", a.ref.Digest, err)
	}
	a.log = a.log.With(slog.String(attr.ScanID, a.scanID))
	switch decision {
	case domain.DecideReferenced:
		a.log.InfoContext(ctx, "cache hit: reference recorded", slog.String("event", string(domain.EventImageReferenced)))
		h.emit(ctx, metrics.Metric{Name: "CacheHit", Value: 1, Unit: metrics.Count})
		return OutcomeCached, nil
	case domain.DecideSkip:
		a.log.InfoContext(ctx, "scan in progress elsewhere; reference queued for it")
		return OutcomeInProgress, nil
	case domain.DecideGaveUp:
		a.log.WarnContext(ctx, "scan failed for good: every attempt died without a result", slog.String(attr.FailureClass, string(domain.FailureCrashed)))
		h.emit(ctx, metrics.Metric{Name: "ScanFailed", Value: 1, Unit: metrics.Count})
		return OutcomeFailed, nil
	}
	return "", nil
}

// reuse records an index with the completed scan of its platform image, so
// that QScanner does not run again on the same content.
func (h *Handler) reuse(ctx context.Context, a *attempt, platformImage *domain.Scan, platform string) (Outcome, error) {
	res, _ := platformImage.Result(a.now)
	a.stored = &res
	err := h.complete(ctx, a, res)
	if errors.Is(err, domain.ErrLeaseLost) {
		return h.leaseLostOnComplete(ctx, a, OutcomeCached), nil
	}
	if err != nil {
		return "", fmt.Errorf("record scan of %s: %w", a.ref.Digest, err)
	}
	a.log.InfoContext(ctx, "index recorded with the scan of its platform image; QScanner not run again",
		slog.String(attr.Platform, platform), slog.String("platform_image", platformImage.Digest().String()))
	h.emit(ctx, metrics.Metric{Name: "CacheHit", Value: 1, Unit: metrics.Count})
	return OutcomeCached, nil
}

// run runs QScanner on platform of the image, stores the report and records
// the result. A failure on the way is recorded as the scan's (see fail).
func (h *Handler) run(ctx context.Context, a *attempt, platform string) (Outcome, error) {
	if out, ok, err := h.recordEarlierReport(ctx, a); ok || err != nil {
		return out, err
	}
	a.log.InfoContext(ctx, "scan started", slog.String(attr.Platform, platform))
	start := h.now()
	var report *domain.Report
	err := step(ctx, "qscanner run", a.ref, a.scanID, func(ctx context.Context, _ *tracing.Span) (err error) {
		report, err = h.scanner.Scan(ctx, domain.ScanTarget{Ref: a.ref, Platform: platform, Deadline: a.leaseUntil})
		return err
	})
	if err != nil {
		var f domain.Failure
		if !errors.As(err, &f) {
			f = domain.Failure{Class: domain.FailureCrashed, Reason: err.Error()}
		}
		return h.fail(ctx, a, f, report)
	}
	if report.Platform == "" {
		report.Platform = platform
	}
	loc, err := h.upload(ctx, a.ref, a.scanID, report)
	if err != nil {
		return h.fail(ctx, a, domain.Failure{Class: domain.FailureInternal, Reason: "store report: " + err.Error()}, nil)
	}
	return h.recordReport(ctx, a, report, loc, h.now().Sub(start))
}

// recordReport records report, stored at loc, as the result of a's scan.
// took is how long the scan took; negative when this attempt did not time
// it (see completed).
func (h *Handler) recordReport(ctx context.Context, a *attempt, report *domain.Report, loc domain.ReportLocation, took time.Duration) (Outcome, error) {
	summary := domain.Summarize(report)
	a.stored = &domain.ScanResult{Summary: summary, Report: loc, Platform: report.Platform, QScannerVersion: report.QScannerVersion, Changes: h.changes(ctx, a, report)}
	err := step(ctx, "record write", a.ref, a.scanID, func(ctx context.Context, _ *tracing.Span) error {
		return h.complete(ctx, a, *a.stored)
	}, domain.ErrLeaseLost)
	if errors.Is(err, domain.ErrLeaseLost) {
		return h.leaseLostOnComplete(ctx, a, OutcomeScanned), nil
	}
	if err != nil {
		return "", fmt.Errorf("record scan of %s: %w", a.ref.Digest, err)
	}
	h.completed(ctx, a.log, summary, loc, took)
	return OutcomeScanned, nil
}

// complete records res as a's scan's result.
func (h *Handler) complete(ctx context.Context, a *attempt, res domain.ScanResult) error {
	return h.store.Update(ctx, a.ref.Digest, func(s *domain.Scan) error {
		return s.Complete(a.owner, res, h.now(), h.cfg.CacheTTL)
	})
}

// upload stores a scan's report, in a span of its own.
func (h *Handler) upload(ctx context.Context, ref domain.ImageRef, scanID string, report *domain.Report) (loc domain.ReportLocation, err error) {
	err = step(ctx, "report upload", ref, scanID, func(ctx context.Context, _ *tracing.Span) (err error) {
		loc, err = h.reports.PutReport(ctx, scanID, report)
		return err
	})
	return loc, err
}

// completed emits a completed scan's metrics and logs it. A negative took
// (a stored result recorded by a later attempt, which did not time the
// scan) emits no duration.
func (h *Handler) completed(ctx context.Context, log *slog.Logger, summary domain.Summary, loc domain.ReportLocation, took time.Duration) {
	v := summary.Vulnerabilities
	ms := []metrics.Metric{{Name: "ScanCompleted", Value: 1, Unit: metrics.Count}}
	if took >= 0 {
		ms = append(ms, metrics.Metric{Name: "ScanDurationMs", Value: float64(took.Milliseconds()), Unit: metrics.Milliseconds})
	}
	h.emit(ctx, append(ms,
		metrics.Metric{Name: "FindingsCritical", Value: float64(v.Critical), Unit: metrics.Count},
		metrics.Metric{Name: "FindingsHigh", Value: float64(v.High), Unit: metrics.Count},
		metrics.Metric{Name: "FindingsMedium", Value: float64(v.Medium), Unit: metrics.Count},
		metrics.Metric{Name: "FindingsLow", Value: float64(v.Low), Unit: metrics.Count},
		metrics.Metric{Name: "Secrets", Value: float64(summary.Secrets), Unit: metrics.Count})...)
	log.InfoContext(ctx, "scan completed",
		slog.Int64(attr.DurationMS, took.Milliseconds()),
		slog.Int("critical", v.Critical),
		slog.Int("high", v.High),
		slog.Int("vulnerabilities", v.Total()),
		slog.Int("secrets", summary.Secrets),
		slog.String("report_key", loc.Key))
}

// fail records a failed scan. A partial report (exit 40, policy results) is
// stored and summarized with the failure. A final failure settles the message
// (the ScanFailed event tells people); a retryable one returns an error so SQS
// redelivers the push.
func (h *Handler) fail(ctx context.Context, a *attempt, f domain.Failure, partial *domain.Report) (Outcome, error) {
	d := a.ref.Digest
	// The failure's spans name the digest alone.
	ref := domain.ImageRef{Digest: d}
	var res *domain.ScanResult
	if partial != nil {
		// Stored apart from a completed scan's report (failedReportID), so
		// that a takeover never mistakes it for a result to record.
		loc, err := h.upload(ctx, ref, failedReportID(a.scanID), partial)
		if err == nil {
			res = &domain.ScanResult{Summary: domain.Summarize(partial), Report: loc, Platform: partial.Platform, QScannerVersion: partial.QScannerVersion}
		} else {
			a.log.WarnContext(ctx, "partial report not stored", attr.Err(err))
		}
	}
	var final bool
	err := step(ctx, "record write", ref, a.scanID, func(ctx context.Context, span *tracing.Span) error {
		span.Annotate(attr.FailureClass, string(f.Class))
		return h.store.Update(ctx, d, func(s *domain.Scan) error {
			var err error
			final, err = s.Fail(a.owner, f, res, h.cfg.MaxAttempts, h.now(), h.cfg.CacheTTL)
			return err
		})
	}, domain.ErrLeaseLost)
	if errors.Is(err, domain.ErrLeaseLost) {
		a.leaseEnded = true
		return h.failLeaseLost(ctx, a, f)
	}
	if err != nil {
		return "", fmt.Errorf("record failed scan of %s (%v): %w", d, f, err)
	}
	a.leaseEnded = true
	a.log.WarnContext(ctx, "scan failed", slog.String(attr.FailureClass, string(f.Class)), slog.Int("exit_code", f.ExitCode), slog.String(attr.Reason, f.Reason), slog.Bool("final", final))
	if final {
		h.emit(ctx, metrics.Metric{Name: "ScanFailed", Value: 1, Unit: metrics.Count})
		return OutcomeFailed, nil
	}
	return OutcomeRetrying, fmt.Errorf("scan %s: %w (will retry)", d, f)
}

// failLeaseLost settles a failure whose write reported the lease lost.
// Either another invocation took the scan over, or our own write landed and
// only its reply was lost (the store then re-applied Fail to the failed
// record). In the second case the retry must still happen.
func (h *Handler) failLeaseLost(ctx context.Context, a *attempt, f domain.Failure) (Outcome, error) {
	d := a.ref.Digest
	if rec, gerr := h.store.Get(ctx, d); gerr == nil && rec.ScanID() == a.scanID && rec.Status() == domain.StatusFailed {
		if r := rec.Record(); !r.FinalFailure {
			return OutcomeRetrying, fmt.Errorf("scan %s: %w (will retry)", d, f)
		}
		return OutcomeFailed, nil
	}
	a.log.WarnContext(ctx, "lease lost before the failure was recorded", slog.String("failure", f.Error()))
	return OutcomeInProgress, nil
}

// emit publishes the dashboard's metrics beside the logger, not through it,
// so no log level drops them (infra/metrics).
func (h *Handler) emit(ctx context.Context, ms ...metrics.Metric) {
	if err := h.metrics.Emit(ctx, h.now(), ms...); err != nil {
		h.logger.ErrorContext(ctx, "metrics not published", attr.Err(err))
	}
}
