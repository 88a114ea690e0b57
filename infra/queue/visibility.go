package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// VisibilityChanger is the part of the SQS client Visibility uses.
type VisibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Visibility hides received messages for a chosen time, to schedule their
// retry sooner than the queue's visibility timeout.
type Visibility struct {
	client VisibilityChanger
}

// NewVisibility hides messages through client.
func NewVisibility(client VisibilityChanger) (*Visibility, error) {
	if client == nil {
		return nil, fmt.Errorf("visibility: client is required")
	}
	return &Visibility{client: client}, nil
}

// Hide makes the message invisible for d (SQS allows up to 12 hours).
func (v *Visibility) Hide(ctx context.Context, queueARN, receipt string, d time.Duration) error {
	url, err := QueueURL(queueARN)
	if err != nil {
		return err
	}
	secs := int32(min(max(d, 0), 12*time.Hour) / time.Second)
	if _, err := v.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: aws.String(receipt), VisibilityTimeout: secs,
	}); err != nil {
		return fmt.Errorf("delay retry on %s: %w", url, err)
	}
	return nil
}

// QueueURL turns an SQS queue ARN (as Lambda's event source gives it) into
// the queue's URL: arn:aws:sqs:us-east-1:123456789012:name becomes
// https://sqs.us-east-1.amazonaws.com/123456789012/name (amazonaws.com.cn in
// the China partition).
func QueueURL(arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[3] == "" || parts[4] == "" || parts[5] == "" {
		return "", fmt.Errorf("not an SQS queue ARN: %q", arn)
	}
	domain := "amazonaws.com"
	if parts[1] == "aws-cn" {
		domain = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://sqs.%s.%s/%s/%s", parts[3], domain, parts[4], parts[5]), nil
}
