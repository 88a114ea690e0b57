package consume

import (
	"context"
	"log/slog"
	"time"
)

// Log records the outcome of every message: message_id, receive_count,
// duration_ms and, on failure, the error and whether it is permanent.
func Log(logger *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m Message) error {
			start := time.Now()
			err := next(ctx, m)
			attrs := []any{
				slog.String("message_id", m.ID),
				slog.Int("receive_count", m.ReceiveCount),
				slog.Int64("duration_ms", time.Since(start).Milliseconds()),
			}
			if err != nil {
				logger.ErrorContext(ctx, "message failed", append(attrs, slog.String("error", err.Error()), slog.Bool("permanent", IsPermanent(err)))...)
				return err
			}
			logger.InfoContext(ctx, "message done", attrs...)
			return nil
		}
	}
}
