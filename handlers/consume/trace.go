package consume

import (
	"context"
	"fmt"

	"ecrscanner/events"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/tracing"
)

// Trace records a handler's work for an event in the scan's own X-Ray trace.
// X-Ray does not carry context through the stream, the Pipe and the bus, so
// the scan stores its invocation's trace header on the record and every bus
// event carries it (ev.TraceHeader); Trace opens a segment named handler in
// that trace, under the scan function's segment, beside the segment Lambda
// records for this invocation. It is annotated with handler, event_id,
// scan_id, image_digest, repository (the first target) and, for a replay,
// replay_id, so the trace is found from any of them. The context passed on
// carries the segment: AWS calls made with it (the SDK clients being
// instrumented) become its subsegments. A failure marks the segment: a
// permanent one as an error, any other as a fault; a panic as a fault before
// it goes on up. Without a sampled header the handler runs untraced.
func Trace(handler string) EventMiddleware {
	return func(next EventHandler) EventHandler {
		return func(ctx context.Context, ev events.ScanEvent) (err error) {
			ctx, span := tracing.Continue(ctx, handler, ev.TraceHeader)
			if span == nil {
				return next(ctx, ev)
			}
			span.Annotate(attr.Handler, handler)
			span.Annotate(attr.EventID, ev.EventID)
			span.Annotate(attr.ScanID, ev.ScanID)
			span.Annotate(attr.ImageDigest, ev.Digest.String())
			if targets := ev.Targets(); len(targets) > 0 {
				span.Annotate(attr.Repository, targets[0].Repository)
			}
			if ev.ReplayID != "" {
				// A replay joins the original scan's trace; this tells its
				// segments from the first delivery's.
				span.Annotate(attr.ReplayID, ev.ReplayID)
			}
			defer func() {
				if r := recover(); r != nil {
					span.End(fmt.Errorf("panic: %v", r))
					panic(r)
				}
			}()
			err = next(ctx, ev)
			if IsPermanent(err) {
				span.Reject(err)
			} else {
				span.End(err)
			}
			return err
		}
	}
}
