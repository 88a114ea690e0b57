package consume

import (
	"context"
	"fmt"
	"log/slog"

	"ecrscanner/infra/attr"
)

// DeadLetters parks messages that cannot be processed.
type DeadLetters interface {
	// Park stores the body of message id with the reason it failed. Safe for
	// concurrent use.
	Park(ctx context.Context, id, body, reason string) error
}

// DeadLetter moves a message whose handler failed permanently to dlq at once,
// with the reason, and settles it so SQS does not redeliver it. If parking
// fails the original error stands and SQS's own redrive policy remains the
// backstop.
func DeadLetter(dlq DeadLetters, logger *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m Message) error {
			err := next(ctx, m)
			if err == nil || !IsPermanent(err) {
				return err
			}
			if perr := dlq.Park(ctx, m.ID, m.Body, err.Error()); perr != nil {
				return fmt.Errorf("%w (and parking it failed: %v)", err, perr)
			}
			logger.WarnContext(ctx, "message dead-lettered", slog.String(attr.MessageID, m.ID), slog.String(attr.Reason, err.Error()))
			return nil
		}
	}
}
