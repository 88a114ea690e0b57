package consume

import (
	"context"
	"log/slog"

	"ecrscanner/events"
	"ecrscanner/infra/attr"
)

// EventHandler handles one scan event from the image-scans bus. It must be
// idempotent: every event may arrive more than once (Dedupe makes most
// repeats cheap, but a crash between the effect and the bookkeeping still
// repeats the effect).
type EventHandler func(ctx context.Context, ev events.ScanEvent) error

// EventMiddleware wraps an EventHandler with one concern.
type EventMiddleware func(EventHandler) EventHandler

// Events adapts h to queue messages: each message body is an EventBridge
// event delivered by a bus rule. A body that is not a valid scan event is a
// permanent failure with the reason. mws wrap h, the first outermost.
func Events(h EventHandler, mws ...EventMiddleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return func(ctx context.Context, m Message) error {
		ev, err := events.DecodeBusMessage([]byte(m.Body))
		if err != nil {
			return Permanent(err)
		}
		return h(ctx, ev)
	}
}

// LogEvent logs the event's arrival with its identity (handler, event_id,
// event_type, image_digest, scan_id, replay_id), so that one event's
// deliveries can be found by any of them. It leaves ctx and the logger as they
// are: lines logged further in carry only the attributes they add themselves.
// Since it names the handler itself, give it a logger that does not: a
// logger already built With the handler would write that key twice.
func LogEvent(logger *slog.Logger, handler string) EventMiddleware {
	return func(next EventHandler) EventHandler {
		return func(ctx context.Context, ev events.ScanEvent) error {
			logger.InfoContext(ctx, "scan event received",
				slog.String(attr.Handler, handler),
				slog.String(attr.EventID, ev.EventID),
				slog.String(attr.EventType, string(ev.EventType)),
				slog.String(attr.ImageDigest, ev.Digest.String()),
				slog.String(attr.ScanID, ev.ScanID),
				slog.String(attr.ReplayID, ev.ReplayID))
			return next(ctx, ev)
		}
	}
}
