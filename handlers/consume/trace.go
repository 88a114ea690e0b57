package consume

import (
	"context"
	"fmt"
	"time"

	"ecrscanner/events"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/tracing"
)

// annotationLinkedTrace names, on a handler's own span, the scan's trace
// when that one could not be joined.
const annotationLinkedTrace = "scan_trace_id"

// Trace records a handler's work for an event in X-Ray, in two places:
//
//   - In the invocation's own trace, the one Lambda starts for it: a
//     subsegment named handler. This rests only on documented behaviour (a
//     subsegment of the function's segment), so it is always there.
//   - In the scan's trace: X-Ray does not carry context through the stream,
//     the Pipe and the bus, so the scan stores a header on its record whose
//     parent is one of its subsegments, every bus event carries it
//     (ev.TraceHeader), and Trace continues it with a segment named handler
//     under that subsegment. That joins one tree per scan. A trace begun more
//     than tracing.MaxContinueAge ago (a replay of old events) is not
//     continued, because X-Ray would refuse the segment; the own subsegment
//     then names the scan's trace in the scan_trace_id annotation.
//
// Both are annotated with handler, event_id, scan_id, image_digest,
// repository (the first target) and, for a replay, replay_id, so the scan is
// found from either side even where the one tree is not formed. The context
// passed on carries the joined segment when there is one, else the own
// subsegment: AWS calls made with it (the SDK clients being instrumented)
// nest there. A failure marks both: a permanent one as an error, any other
// as a fault; a panic as a fault before it goes on up. Without a sampled
// trace on either side the handler runs untraced.
func Trace(handler string) EventMiddleware {
	return func(next EventHandler) EventHandler {
		return func(ctx context.Context, ev events.ScanEvent) (err error) {
			workCtx, own := tracing.Start(ctx, handler)
			scanHeader, joinable := tracing.Joinable(ev.TraceHeader, time.Now())
			var joined *tracing.Span
			if joinable {
				workCtx, joined = tracing.Continue(workCtx, handler, ev.TraceHeader)
			} else if scanHeader.TraceID != "" {
				own.Annotate(annotationLinkedTrace, scanHeader.TraceID)
			}
			spans := []*tracing.Span{own, joined}
			for _, span := range spans {
				annotate(span, handler, ev)
			}
			defer func() {
				if r := recover(); r != nil {
					for _, span := range spans {
						span.End(fmt.Errorf("panic: %v", r))
					}
					panic(r)
				}
			}()
			err = next(workCtx, ev)
			for _, span := range spans {
				if IsPermanent(err) {
					span.Reject(err)
				} else {
					span.End(err)
				}
			}
			return err
		}
	}
}

// annotate records what finds the handler's work for ev on span.
func annotate(span *tracing.Span, handler string, ev events.ScanEvent) {
	span.Annotate(attr.Handler, handler)
	span.Annotate(attr.EventID, ev.EventID)
	span.Annotate(attr.ScanID, ev.ScanID)
	span.Annotate(attr.ImageDigest, ev.Digest.String())
	if targets := ev.Targets(); len(targets) > 0 {
		span.Annotate(attr.Repository, targets[0].Repository)
	}
	if ev.ReplayID != "" {
		// A replay joins the original scan's trace; this tells its segments
		// from the first delivery's.
		span.Annotate(attr.ReplayID, ev.ReplayID)
	}
}
