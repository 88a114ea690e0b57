package consume

import (
	"context"
	"errors"
	"fmt"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// WalkEventReport walks the full report of ev's scan with v, one finding at
// a time (domain.ReportStreamer), so a handler holds only what it keeps of
// a report of any size. The report's digest is checked when its head comes,
// before any finding reaches v. An error v returns comes back as it is. Of
// the others, what no retry can cure — an event without a report pointer,
// an unreadable or oversized report, a report of another image — is
// Permanent; the rest (S3 unavailable, a report not there yet: a lagging
// replica, a restore) is retried, within the queue's redrive policy.
func WalkEventReport(ctx context.Context, reports domain.ReportStreamer, ev events.ScanEvent, v domain.ReportVisitor) error {
	if ev.Report == nil {
		return Permanent(fmt.Errorf("%w %s event: no report pointer", domain.ErrInvalid, ev.EventType))
	}
	loc := *ev.Report
	head := v.Head
	v.Head = func(h domain.ReportHead) error {
		if h.Digest != ev.Digest {
			return Permanent(fmt.Errorf("%w report: s3://%s/%s is for %s", domain.ErrInvalid, loc.Bucket, loc.Key, h.Digest))
		}
		if head != nil {
			return head(h)
		}
		return nil
	}
	v = markVisitorErrors(v)
	err := reports.WalkReport(ctx, loc, v)
	var ve visitorError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return ve.err
	case errors.Is(err, domain.ErrInvalid):
		return Permanent(fmt.Errorf("read report: %w", err))
	}
	return fmt.Errorf("read report: %w", err)
}

// visitorError marks an error of the visitor (or of the digest check), which
// WalkEventReport returns as it is rather than as a read failure.
type visitorError struct{ err error }

func (e visitorError) Error() string { return e.err.Error() }

// Unwrap lets the streamer see domain.ErrStopWalk through the mark.
func (e visitorError) Unwrap() error { return e.err }

func markVisitorErrors(v domain.ReportVisitor) domain.ReportVisitor {
	return domain.ReportVisitor{
		Head:          mark(v.Head),
		Vulnerability: mark(v.Vulnerability),
		Secret:        mark(v.Secret),
	}
}

func mark[T any](f func(T) error) func(T) error {
	if f == nil {
		return nil
	}
	return func(x T) error {
		if err := f(x); err != nil {
			return visitorError{err}
		}
		return nil
	}
}
