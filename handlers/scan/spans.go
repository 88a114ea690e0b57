package main

import (
	"context"
	"errors"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/tracing"
)

// step runs fn, one step of handling a push, in a span of its own (see
// startSpan) that fn may annotate further. The span ends with fn's error,
// unless that error is one of handled: an outcome the caller acts on, not a
// failure of the step.
func step(ctx context.Context, name string, ref domain.ImageRef, scanID string, fn func(ctx context.Context, span *tracing.Span) error, handled ...error) error {
	ctx, span := startSpan(ctx, name, ref, scanID)
	err := fn(ctx, span)
	span.End(unless(err, handled...))
	return err
}

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

// unless is err, or nil when err is one of the expected outcomes targets,
// which are handled and no failure of the step.
func unless(err error, targets ...error) error {
	for _, t := range targets {
		if errors.Is(err, t) {
			return nil
		}
	}
	return err
}

// traceHeader is the header stored on the record for downstream handlers to
// continue the scan's trace: its parent is claim, the scan's own subsegment
// that wrote the record (Root=…;Parent=<claim>;Sampled=1), not the function
// segment Lambda records, whose ID the X-Ray documentation does not promise
// to a function. Without a sampled trace it is the invocation's header as
// given (unsampled, or empty), which downstream does not continue.
func traceHeader(ctx context.Context, claim *tracing.Span) string {
	if h := claim.Header(); h != "" {
		return h
	}
	return tracing.InvocationHeader(ctx)
}
