package snsnotify

import (
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrOutcomeUnknown means a Publish may or may not have reached SNS: the
// request went out and the connection broke or timed out before an answer
// came back. A standard topic cannot tell a second Publish from a new
// message (only FIFO topics deduplicate:
// https://docs.aws.amazon.com/sns/latest/dg/fifo-message-dedup.html), so
// sending again risks a duplicate alert.
var ErrOutcomeUnknown = errors.New("publish outcome unknown")

// RetrySentOnlyOnAnswer makes the SNS client retry a Publish only when the
// request surely did not publish: SNS answered with an error (throttling, a
// 5xx), or no connection was made. Pass it to sns.NewFromConfig for a
// Notifier. By default the SDK also retries a broken connection after the
// request was sent, which publishes twice when only the reply was lost.
func RetrySentOnlyOnAnswer(o *sns.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if outcomeUnknown(err) {
				return aws.FalseTernary
			}
			return aws.UnknownTernary
		})}, retry.DefaultRetryables...)
	})
}

// outcomeUnknown reports whether err leaves open whether the request
// published: no answer from SNS, and not a failure to connect or a context
// that ended before the call.
func outcomeUnknown(err error) bool {
	// A context that ended while the request was under way (Publish refuses
	// one that ended before): the request may have gone out.
	var canceled *smithy.CanceledError
	if errors.As(err, &canceled) {
		return true
	}
	// The SDK wraps a failure to send a request, or to read its answer, in
	// RequestSendError; anything else came with SNS's answer.
	var sendErr *smithyhttp.RequestSendError
	if !errors.As(err, &sendErr) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return false
	}
	return true
}
