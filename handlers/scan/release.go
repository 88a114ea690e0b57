package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/tracing"
)

// releaseTimeout bounds the release write, which runs even when the
// invocation's context is done: the failure being handled may be that very
// deadline.
const releaseTimeout = 5 * time.Second

// release gives up a's lease after the attempt failed with cause and its
// message is about to come back: without it the retry would meet the lease
// (it runs to the invocation's deadline), take itself for a duplicate and be
// deleted, leaving the record in SCANNING. If the report was already stored,
// the record keeps where, so the retry records it instead of running
// QScanner again (domain.DecideRecord).
//
// Best effort: if the release cannot be written either, the retry of the
// same message still takes the lease over (domain.Scan.Claim knows the
// lease was taken for an earlier delivery of it), and any other delivery
// does once the lease expires. ErrLeaseLost means the lease is no longer
// ours to give (taken over, or the record settled): nothing is clobbered.
func (h *Handler) release(ctx context.Context, a *attempt, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	reason := domain.Failure{Class: domain.FailureInternal, Reason: cause.Error()}
	err := step(ctx, "lease release", domain.ImageRef{Digest: a.ref.Digest}, a.scanID, func(ctx context.Context, _ *tracing.Span) error {
		return h.store.Update(ctx, a.ref.Digest, func(s *domain.Scan) error {
			return s.Release(a.owner, reason, a.stored, h.now())
		})
	}, domain.ErrLeaseLost)
	switch {
	case errors.Is(err, domain.ErrLeaseLost):
		a.log.InfoContext(ctx, "lease not released: no longer ours")
	case err != nil:
		a.log.WarnContext(ctx, "lease not released; a redelivery of this message takes it over, any other once it expires",
			slog.Time("lease_until", a.leaseUntil), attr.Err(err))
	default:
		a.log.InfoContext(ctx, "lease released for the retry", slog.Bool("report_stored", a.stored != nil), slog.String(attr.Reason, reason.Reason))
	}
}

// record completes a's scan with the result an earlier attempt stored
// (domain.DecideRecord): QScanner does not run again.
func (h *Handler) record(ctx context.Context, a *attempt) (Outcome, error) {
	err := step(ctx, "record write", a.ref, a.scanID, func(ctx context.Context, _ *tracing.Span) error {
		return h.complete(ctx, a, *a.stored)
	}, domain.ErrLeaseLost)
	if errors.Is(err, domain.ErrLeaseLost) {
		return h.leaseLostOnComplete(ctx, a, OutcomeScanned), nil
	}
	if err != nil {
		return "", fmt.Errorf("record stored result of %s: %w", a.ref.Digest, err)
	}
	a.log.InfoContext(ctx, "stored result of an earlier attempt recorded; QScanner not run again")
	h.completed(ctx, a.log, a.stored.Summary, a.stored.Report, -1)
	return OutcomeScanned, nil
}

// leaseLostOnComplete settles a completion whose write reported the lease
// lost. Either our own write landed and only its reply was lost (the store
// re-applied Complete to the completed record): the scan is done, done
// stands for the outcome; or another invocation took the scan over, and its
// result stands.
func (h *Handler) leaseLostOnComplete(ctx context.Context, a *attempt, done Outcome) Outcome {
	a.leaseEnded = true
	if rec, err := h.store.Get(ctx, a.ref.Digest); err == nil && rec.Status() == domain.StatusCompleted && a.stored != nil {
		if loc, ok := rec.ReportLocation(); ok && loc == a.stored.Report {
			a.log.InfoContext(ctx, "result recorded; only the write's reply was lost")
			return done
		}
	}
	a.log.WarnContext(ctx, "lease lost before the result was recorded; the newer scan's result stands")
	return OutcomeInProgress
}

type requestKey struct{}

// withRequest tells the claim which queue message the push came in, so a
// redelivery of it can take over a lease its earlier delivery left behind.
func withRequest(ctx context.Context, messageID string) context.Context {
	return context.WithValue(ctx, requestKey{}, messageID)
}

// requestFrom is the message withRequest recorded, or "".
func requestFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestKey{}).(string)
	return id
}
