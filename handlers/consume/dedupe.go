package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/attr"
)

// DedupeConfig tunes Dedupe.
type DedupeConfig struct {
	// Handler names the effect; keys are per handler so that handlers
	// deduplicate independently.
	Handler string
	// Lease is how long an in-progress marker holds off other deliveries; it
	// should exceed the handler's worst-case run time and stay below the
	// queue's visibility timeout.
	Lease time.Duration
	// Retention is how long a finished key is remembered; it should exceed
	// the longest redelivery window (SQS retention, the Pipe's record age).
	Retention time.Duration
}

// IdempotencyKey is the key under which a handler's effect for ev is
// recorded: handler, event ID and, for a replay, the replay ID — so a replay
// redoes the work while a plain redelivery does not.
func IdempotencyKey(handler string, ev events.ScanEvent) string {
	k := handler + "#" + ev.EventID
	if ev.ReplayID != "" {
		k += "#replay#" + ev.ReplayID
	}
	return k
}

// ErrBusy means another delivery of the same event is being handled right
// now; the message is retried later, by which time that delivery has either
// finished (and this one is dropped) or crashed (and its marker expired).
var ErrBusy = errors.New("same event in progress elsewhere")

// Dedupe runs the handler at most once per idempotency key to completion.
// A handler failure drops the marker so the retry may run at once. Its lines
// carry the event's identity but not the handler's name, which logger is
// expected to carry already (see LogEvent).
func Dedupe(store domain.IdempotencyStore, cfg DedupeConfig, logger *slog.Logger) EventMiddleware {
	return func(next EventHandler) EventHandler {
		return func(ctx context.Context, ev events.ScanEvent) error {
			key := IdempotencyKey(cfg.Handler, ev)
			switch err := store.Start(ctx, key, cfg.Lease); {
			case errors.Is(err, domain.ErrAlreadyDone):
				logger.InfoContext(ctx, "duplicate event skipped", slog.String(attr.EventID, ev.EventID), slog.String(attr.ReplayID, ev.ReplayID))
				return nil
			case errors.Is(err, domain.ErrInProgress):
				return fmt.Errorf("%s event %s: %w", cfg.Handler, ev.EventID, ErrBusy)
			case err != nil:
				// The marker's write may have landed (a timeout): drop it, so
				// that the retry need not wait for its lease.
				abandon(ctx, store, key, ev, logger)
				return fmt.Errorf("%s event %s: idempotency check: %w", cfg.Handler, ev.EventID, err)
			}
			defer func() {
				// A panic is recovered further out; drop the marker first so
				// that the redelivery need not wait for the lease to expire.
				if r := recover(); r != nil {
					abandon(ctx, store, key, ev, logger)
					panic(r)
				}
			}()
			if err := next(ctx, ev); err != nil {
				abandon(ctx, store, key, ev, logger)
				return err
			}
			rctx, cancel := RecordingContext(ctx)
			defer cancel()
			if err := store.Finish(rctx, key, cfg.Retention); err != nil {
				// The effect happened; failing now would only repeat it.
				logger.WarnContext(ctx, "idempotency marker not finished", slog.String(attr.EventID, ev.EventID), attr.Err(err))
			}
			return nil
		}
	}
}

// recordingTimeout bounds the write of an outcome made under
// RecordingContext.
const recordingTimeout = 5 * time.Second

// RecordingContext is the context for recording the outcome of work done
// under ctx (finishing or dropping an idempotency marker): not ended by
// ctx's deadline or cancellation, since the outcome must be written whatever
// ended the work, but bounded by recordingTimeout.
func RecordingContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordingTimeout)
}

// abandon drops key's marker under RecordingContext, logging a failure.
func abandon(ctx context.Context, store domain.IdempotencyStore, key string, ev events.ScanEvent, logger *slog.Logger) {
	rctx, cancel := RecordingContext(ctx)
	defer cancel()
	if err := store.Abandon(rctx, key); err != nil {
		logger.WarnContext(ctx, "idempotency marker not dropped; the retry waits for it to expire", slog.String(attr.EventID, ev.EventID), attr.Err(err))
	}
}
