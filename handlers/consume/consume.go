// Package consume turns per-message handlers into SQS-triggered Lambda
// handlers. Cross-cutting behaviour — panic recovery, logging, dead-lettering
// of permanent failures, bus-event decoding, deduplication, tracing — is
// middleware around a plain Handler, one per file, so every function gets the
// same plumbing by composition rather than by copy.
//
// It holds middleware only: its ports (DeadLetters, Visibility,
// domain.IdempotencyStore) are implemented elsewhere, and it imports no
// adapter. infra/startup assembles the chain for each function.
package consume

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	awsevents "github.com/aws/aws-lambda-go/events"
)

// Message is one SQS message as a handler sees it.
type Message struct {
	ID   string
	Body string
	// ReceiveCount is how many times SQS has handed this message out,
	// including this time.
	ReceiveCount int
	// Attributes holds the message's string attributes.
	Attributes map[string]string
	// ReceiptHandle and QueueARN say where the message came from, for
	// middleware that acts on it in SQS (Backoff).
	ReceiptHandle string
	QueueARN      string
}

// Handler processes one message. A nil error deletes the message; an error
// leaves it for SQS to redeliver, unless middleware settles it first (see
// Permanent and DeadLetter).
type Handler func(ctx context.Context, m Message) error

// Middleware wraps a Handler with one concern.
type Middleware func(Handler) Handler

// Chain wraps h in mws, the first being the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Batch adapts h to the Lambda SQS event source. Messages are handled one
// after another; each failure is reported alone in batchItemFailures, so
// SQS redelivers only the messages that failed (the event source mapping must
// enable ReportBatchItemFailures).
func Batch(h Handler) func(context.Context, awsevents.SQSEvent) (awsevents.SQSEventResponse, error) {
	return func(ctx context.Context, ev awsevents.SQSEvent) (awsevents.SQSEventResponse, error) {
		var resp awsevents.SQSEventResponse
		for _, r := range ev.Records {
			if err := h(ctx, FromSQS(r)); err != nil {
				resp.BatchItemFailures = append(resp.BatchItemFailures, awsevents.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	}
}

// FromSQS converts a Lambda SQS record into a Message.
func FromSQS(r awsevents.SQSMessage) Message {
	n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
	attrs := make(map[string]string, len(r.MessageAttributes))
	for k, v := range r.MessageAttributes {
		if v.StringValue != nil {
			attrs[k] = *v.StringValue
		}
	}
	return Message{ID: r.MessageId, Body: r.Body, ReceiveCount: n, Attributes: attrs, ReceiptHandle: r.ReceiptHandle, QueueARN: r.EventSourceARN}
}

// permanentError marks a failure that no retry can cure.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying cannot cure (malformed input,
// a violated invariant). DeadLetter moves such messages aside at once instead
// of letting them burn their receives. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked
// Permanent. It does not look inside joined errors: several failures are
// permanent only when marked so as a whole (see Join), so one permanent part
// cannot send a message whose other parts may yet succeed to the DLQ.
func IsPermanent(err error) bool {
	for err != nil {
		if _, ok := err.(permanentError); ok {
			return true
		}
		err = errors.Unwrap(err) // nil for a joined error
	}
	return false
}

// Join combines the failures of independent parts of one message's work
// (one per repository, say): nil when there are none, permanent when every
// one is, retryable otherwise — a retry is worth it while any part may yet
// succeed, and redoing the parts that did is harmless in an idempotent
// handler.
func Join(errs ...error) error {
	var failed []error
	all := true
	for _, err := range errs {
		if err == nil {
			continue
		}
		failed = append(failed, err)
		all = all && IsPermanent(err)
	}
	switch {
	case len(failed) == 0:
		return nil
	case all:
		return Permanent(errors.Join(failed...))
	}
	return errors.Join(failed...)
}

// Standard wraps h in the middleware every function uses: dead-lettering of
// permanent failures (when dlq is not nil), outermost; outcome logging, which
// so sees every failure as it happened, dead-lettered or not; and panic
// recovery, innermost, so that a panic is logged and parked like any other
// permanent failure.
func Standard(h Handler, logger *slog.Logger, dlq DeadLetters) Handler {
	var mws []Middleware
	if dlq != nil {
		mws = append(mws, DeadLetter(dlq, logger))
	}
	return Chain(h, append(mws, Log(logger), Recover())...)
}
