// Package queue holds the SQS adapters the consumers use.
package queue

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"ecrscanner/domain"
)

// Sender is the part of the SQS client DeadLetters uses.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// DeadLetters parks messages on a dead-letter queue with the reason they
// failed, as message attributes a person can read in the console.
type DeadLetters struct {
	client Sender
	url    string
}

// NewDeadLetters parks messages on the queue at url.
func NewDeadLetters(client Sender, url string) (*DeadLetters, error) {
	if client == nil || url == "" {
		return nil, fmt.Errorf("dead-letter queue: client and URL are required")
	}
	return &DeadLetters{client: client, url: url}, nil
}

// maxReason bounds the reason attribute; SQS allows 256 KB for the whole message.
const maxReason = 2048

// Park sends the message body to the dead-letter queue with attributes
// failure_reason and original_message_id. The reason may quote a scanner's
// output: characters SQS refuses in an attribute value (control characters
// such as terminal escapes) become U+FFFD, or SQS would refuse the whole
// message and it could not be parked.
func (d *DeadLetters) Park(ctx context.Context, id, body, reason string) error {
	reason = domain.Truncate(strings.Map(sqsChar, reason), maxReason, "")
	_, err := d.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(d.url),
		MessageBody: aws.String(body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"failure_reason":      {DataType: aws.String("String"), StringValue: aws.String(reason)},
			"original_message_id": {DataType: aws.String("String"), StringValue: aws.String(id)},
		},
	})
	if err != nil {
		return fmt.Errorf("park message %s: %w", id, err)
	}
	return nil
}

// sqsChar keeps the characters SQS accepts in message bodies and attribute
// values (#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to
// #x10FFFF) and replaces any other with U+FFFD:
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
func sqsChar(r rune) rune {
	switch {
	case r == 0x9, r == 0xA, r == 0xD, r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return r
	}
	return 0xFFFD
}
