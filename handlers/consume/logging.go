package consume

import (
	"context"
	"log/slog"
	"time"

	"ecrscanner/infra/attr"
)

// Log records the outcome of every message: message_id, receive_count,
// duration_ms and, on failure, the error and whether it is permanent.
func Log(logger *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m Message) error {
			start := time.Now()
			err := next(ctx, m)
			attrs := []any{
				slog.String(attr.MessageID, m.ID),
				slog.Int("receive_count", m.ReceiveCount),
				slog.Int64(attr.DurationMS, time.Since(start).Milliseconds()),
			}
			if err != nil {
				logger.ErrorContext(ctx, "message failed", append(attrs, attr.Err(err), slog.Bool("permanent", IsPermanent(err)))...)
				return err
			}
			logger.InfoContext(ctx, "message done", attrs...)
			return nil
		}
	}
}
