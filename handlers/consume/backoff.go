package consume

import (
	"context"
	"log/slog"
	"time"

	"ecrscanner/infra/attr"
)

// Visibility hides a received message for a while.
type Visibility interface {
	// Hide makes the message with receipt in queueARN invisible for d.
	Hide(ctx context.Context, queueARN, receipt string, d time.Duration) error
}

// Backoff schedules the retry of a message that failed and may succeed later:
// the n-th receive's failure hides the message for delays[n-1] (the last delay
// for later receives) instead of the queue's visibility timeout, which for a
// queue feeding a long function is six times its timeout — far too long to
// wait for a transient failure. Permanent failures are left alone.
func Backoff(v Visibility, delays []time.Duration, logger *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m Message) error {
			err := next(ctx, m)
			if err == nil || IsPermanent(err) || len(delays) == 0 || m.ReceiptHandle == "" || m.QueueARN == "" {
				return err
			}
			d := delays[min(max(m.ReceiveCount, 1), len(delays))-1]
			if herr := v.Hide(ctx, m.QueueARN, m.ReceiptHandle, d); herr != nil {
				logger.WarnContext(ctx, "retry delay not set; the queue's visibility timeout applies", slog.String(attr.MessageID, m.ID), attr.Err(herr))
			}
			return err
		}
	}
}
