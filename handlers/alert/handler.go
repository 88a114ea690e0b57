package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/snsnotify"
)

// publisher sends one alert.
type publisher interface {
	// Publish sends a. An alert the channel can never accept is an error
	// wrapping domain.ErrInvalid; other errors may be retried.
	Publish(ctx context.Context, a snsnotify.Alert) error
}

// Handler publishes one alert per scan and repository when the alert policy
// flags the scan's result, and one per repository when a scan fails for good.
// A sent alert is recorded in the idempotency store under AlertKey, so that
// redeliveries, and ImageReferenced events for a repository already alerted
// for the same scan, send nothing; a replay (ReplayID set) alerts again.
type Handler struct {
	pub     publisher
	reports domain.ReportStreamer // for the secrets an alert lists (never their matched text, which no report has)
	marks   domain.IdempotencyStore
	cfg     Config
	logger  *slog.Logger
	// rules and now, when set (UseSuppressions), apply the suppressions in
	// force when the handler acts.
	rules domain.SuppressionSource
	now   func() time.Time
}

// NewHandler rejects missing dependencies and settings at start-up.
func NewHandler(pub publisher, reports domain.ReportStreamer, marks domain.IdempotencyStore, cfg Config, logger *slog.Logger) (*Handler, error) {
	if pub == nil || reports == nil || marks == nil || logger == nil {
		return nil, errors.New("alert handler: publisher, reports, idempotency store and logger are required")
	}
	if cfg.ResultsBucket == "" {
		return nil, errors.New("alert handler: results bucket is required")
	}
	if cfg.Policy.MinSeverity == domain.SeverityUnknown {
		cfg.Policy.MinSeverity = domain.SeverityHigh // as Evaluate reads it
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	return &Handler{pub: pub, reports: reports, marks: marks, cfg: cfg, logger: logger}, nil
}

// AlertKey is the idempotency key of the alert for ev's scan in repo:
// alert#<scan ID>#<account>/<region>/<repository>, plus #replay#<replay ID>
// for a replay. It does not depend on the event, so every event about the
// same scan and repository shares it.
func AlertKey(ev events.ScanEvent, repo events.Repository) string {
	k := "alert#" + ev.ScanID + "#" + repo.Account + "/" + repo.Region + "/" + repo.Name
	if ev.ReplayID != "" {
		k += "#replay#" + ev.ReplayID
	}
	return k
}

// Handle alerts on ev for each repository it targets. Failures for some
// repositories do not stop the others; the error returned is permanent only
// if every failure was.
func (h *Handler) Handle(ctx context.Context, ev events.ScanEvent) error {
	log := h.logger.With(slog.String(attr.EventID, ev.EventID), slog.String(attr.ImageDigest, ev.Digest.String()), slog.String(attr.ScanID, ev.ScanID))
	if !h.cfg.Enabled {
		log.InfoContext(ctx, "alerts disabled; event ignored", slog.String(attr.EventType, string(ev.EventType)))
		return nil
	}
	if ev.ScanID == "" {
		return consume.Permanent(fmt.Errorf("alert %s: %w event: scan ID missing", ev.Digest, domain.ErrInvalid))
	}

	var compose func(view) snsnotify.Alert
	var rules domain.Suppressions
	var rulesErr error
	switch ev.EventType {
	case domain.EventScanCompleted, domain.EventImageReferenced:
		if ev.Summary == nil || ev.ScannedAt.IsZero() {
			return consume.Permanent(fmt.Errorf("alert %s: %w %s event: it needs a summary and a scan time", ev.Digest, domain.ErrInvalid, ev.EventType))
		}
		rules, rulesErr = h.loadRules(ctx, log)
		secrets := h.secretsOnce(ev, log)
		compose = func(v view) snsnotify.Alert {
			if v.sifted == nil {
				v.secrets, v.secretsUnavailable = secrets(ctx, v.verdict)
			}
			return findingsAlert(v)
		}
	case domain.EventScanFailed:
		compose = failureAlert
	default:
		return consume.Permanent(fmt.Errorf("alert %s: %w event type %q", ev.Digest, domain.ErrInvalid, ev.EventType))
	}

	var errs []error
	for _, repo := range ev.Repositories() {
		v := newView(ev, repo, h.cfg.ResultsBucket)
		v.policy = h.cfg.Policy
		if ev.EventType != domain.EventScanFailed && !h.judge(ctx, &v, rules, rulesErr, log) {
			continue
		}
		errs = append(errs, h.publishOnce(ctx, ev, repo, func() snsnotify.Alert { return compose(v) }, log))
	}
	// Permanent only if every repository failed for good; otherwise the
	// retry redoes the rest, and those already alerted are skipped then.
	return consume.Join(errs...)
}

// publishOnce publishes the alert for one repository unless it was sent
// before: Start, mark the publish as attempted, Publish, Finish; Abandon
// both if SNS refuses the publish, so that the retry can go ahead at once.
//
// A standard topic cannot drop a second copy of a message, so an alert
// whose publish may have reached SNS is never published again: the attempt
// marker (AlertKey + "#publish", held for the markers' retention) is written
// just before Publish, and an attempt that died after writing it (a crash
// or timeout mid-publish) leaves it behind for the retry to find. A publish
// that got no answer counts as sent the same way. The cost is at most once
// in that narrow window; everywhere else delivery is at least once.
func (h *Handler) publishOnce(ctx context.Context, ev events.ScanEvent, repo events.Repository, compose func() snsnotify.Alert, log *slog.Logger) error {
	key := AlertKey(ev, repo)
	log = log.With(slog.String(attr.Repository, repo.Name), slog.String("alert_key", key))
	switch err := h.marks.Start(ctx, key, h.lease(ctx)); {
	case errors.Is(err, domain.ErrAlreadyDone):
		log.InfoContext(ctx, "alert already sent for this scan and repository")
		return nil
	case errors.Is(err, domain.ErrInProgress):
		return fmt.Errorf("alert %s for %s: %w", ev.Digest, repo.Name, consume.ErrBusy)
	case err != nil:
		h.abandon(ctx, log, key)
		return fmt.Errorf("alert %s for %s: idempotency check: %w", ev.Digest, repo.Name, err)
	}
	// Composed before the attempt is marked: reading the report can take a
	// while, and an attempt that dies here has published nothing.
	a := compose()
	pubCtx, cancel := h.publishContext(ctx)
	defer cancel()
	attempt := key + publishAttemptSuffix
	switch err := h.marks.Start(pubCtx, attempt, h.cfg.Retention); {
	case errors.Is(err, domain.ErrAlreadyDone), errors.Is(err, domain.ErrInProgress):
		log.WarnContext(ctx, "an earlier attempt died while publishing this alert; not sent again, as SNS may have published it")
		h.finish(ctx, log, key)
		return nil
	case err != nil:
		// The marker's write may have landed: without this, the retry would
		// take the alert for one that died publishing, and never send it.
		h.abandon(ctx, log, attempt)
		h.abandon(ctx, log, key)
		return fmt.Errorf("alert %s for %s: idempotency check: %w", ev.Digest, repo.Name, err)
	}
	err := h.pub.Publish(pubCtx, a)
	if errors.Is(err, snsnotify.ErrOutcomeUnknown) {
		log.WarnContext(ctx, "alert publish got no answer; not sent again, as SNS may have published it", attr.Err(err))
		err = nil
	}
	if err != nil {
		h.abandon(ctx, log, attempt)
		h.abandon(ctx, log, key)
		err = fmt.Errorf("alert %s for %s: %w", ev.Digest, repo.Name, err)
		if errors.Is(err, domain.ErrInvalid) {
			return consume.Permanent(err)
		}
		return err
	}
	h.finish(ctx, log, attempt)
	h.finish(ctx, log, key)
	log.InfoContext(ctx, "alert published",
		slog.String("kind", a.Attributes[AttrKind]),
		slog.String("severity", a.Attributes[AttrSeverity]),
		slog.Int("body_bytes", len(a.Body)))
	return nil
}

// publishAttemptSuffix names, after an alert's key, the marker of an
// attempt that reached Publish.
const publishAttemptSuffix = "#publish"

// leaseMargin is how long an alert's lease outlives the invocation holding
// it, for the clock skew between the function and the table.
const leaseMargin = 10 * time.Second

// lease is how long an alert started now holds off other deliveries: until
// this invocation's deadline (and a margin), since its holder cannot outlive
// that, or Config.Lease outside a deadline.
func (h *Handler) lease(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) + leaseMargin; left > 0 {
			return left
		}
	}
	return h.cfg.Lease
}

// bookkeepingReserve is the time kept back from the invocation's deadline
// for recording the outcome of a publish: a marker left behind by a
// deadline would, for the attempt marker, make the retry take an unsent
// alert for a sent one.
const bookkeepingReserve = 5 * time.Second

// publishContext is the context marking and publishing run under: ctx, ending
// bookkeepingReserve before its deadline when there is room for that.
func (h *Handler) publishContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 2*bookkeepingReserve {
		return context.WithDeadline(ctx, dl.Add(-bookkeepingReserve))
	}
	return context.WithCancel(ctx)
}

// finish records key as done; the alert went out (or may have), so failing
// now would only send it again.
func (h *Handler) finish(ctx context.Context, log *slog.Logger, key string) {
	ctx, cancel := consume.RecordingContext(ctx)
	defer cancel()
	if err := h.marks.Finish(ctx, key, h.cfg.Retention); err != nil {
		log.WarnContext(ctx, "alert marker not finished; a redelivery may repeat the alert", slog.String("marker", key), attr.Err(err))
	}
}

// abandon drops key's in-progress marker so that the retry can go ahead at
// once.
func (h *Handler) abandon(ctx context.Context, log *slog.Logger, key string) {
	ctx, cancel := consume.RecordingContext(ctx)
	defer cancel()
	if err := h.marks.Abandon(ctx, key); err != nil {
		log.WarnContext(ctx, "alert marker not dropped; the retry waits for it to expire", slog.String("marker", key), attr.Err(err))
	}
}

// secretsOnce returns a function that reads the secrets an alert lists the
// first time an alert needs them, and only when the alert is about secrets.
// The report is walked, not read whole: only the maxSecretsShown secrets
// the alert shows are kept, whatever the report's size. A read failure does
// not hold the alert back: the alert says the details are unavailable and
// points at the report.
func (h *Handler) secretsOnce(ev events.ScanEvent, log *slog.Logger) func(context.Context, domain.Verdict) ([]domain.Secret, bool) {
	var (
		done        bool
		secrets     []domain.Secret
		unavailable bool
	)
	return func(ctx context.Context, verdict domain.Verdict) ([]domain.Secret, bool) {
		if done || verdict.Secrets == 0 {
			return secrets, unavailable
		}
		done = true
		if ev.Report == nil {
			unavailable = true
			return secrets, unavailable
		}
		var other domain.Digest
		top := shownSecrets{max: maxSecretsShown}
		err := h.reports.WalkReport(ctx, *ev.Report, domain.ReportVisitor{
			Head: func(hd domain.ReportHead) error {
				if hd.Digest != ev.Digest {
					other = hd.Digest
					return domain.ErrStopWalk
				}
				return nil
			},
			Secret: func(sec domain.Secret) error {
				if !newSecret(ev, sec) {
					return nil
				}
				return top.add(sec)
			},
		})
		switch {
		case err != nil:
			log.WarnContext(ctx, "report not readable; the alert lists no secret details", attr.Err(err))
			unavailable = true
		case other != "":
			log.WarnContext(ctx, "report is for another digest; the alert lists no secret details", slog.String("report_digest", other.String()))
			unavailable = true
		default:
			secrets = top.list
		}
		return secrets, unavailable
	}
}

// shownSecrets keeps the first max secrets of a report in the order an
// alert lists them (secretOrder, ties in the report's order), as they are
// walked.
type shownSecrets struct {
	max  int
	list []domain.Secret
}

func (s *shownSecrets) add(sec domain.Secret) error {
	// A stable sort keeps an earlier secret before a later equal one, as
	// sorting the whole report would.
	s.list = append(s.list, sec)
	slices.SortStableFunc(s.list, secretOrder)
	s.list = s.list[:min(len(s.list), s.max)]
	return nil
}
