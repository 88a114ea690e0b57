package consume

import (
	"context"
	"errors"
	"fmt"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// EventReport reads the full report of ev's scan. What no retry can cure —
// an event without a report pointer, an unreadable or oversized report, a
// report of another image — is Permanent; the rest (S3 unavailable, a report
// not there yet: a lagging replica, a restore) is retried, within the
// queue's redrive policy.
func EventReport(ctx context.Context, reports domain.ReportReader, ev events.ScanEvent) (*domain.Report, error) {
	if ev.Report == nil {
		return nil, Permanent(fmt.Errorf("%w %s event: no report pointer", domain.ErrInvalid, ev.EventType))
	}
	rep, err := reports.GetReport(ctx, *ev.Report)
	switch {
	case errors.Is(err, domain.ErrInvalid):
		return nil, Permanent(fmt.Errorf("read report: %w", err))
	case err != nil:
		return nil, fmt.Errorf("read report: %w", err)
	}
	if rep.Digest != ev.Digest {
		return nil, Permanent(fmt.Errorf("%w report: s3://%s/%s is for %s", domain.ErrInvalid, ev.Report.Bucket, ev.Report.Key, rep.Digest))
	}
	return rep, nil
}
