package local

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// DeadLetter is a message held by one of the stack's dead-letter queues.
type DeadLetter struct {
	// Queue is the queue's logical ID.
	Queue     string
	MessageID string
	Body      string
	// Reason is why the message is there: the failure_reason a handler
	// parked it with, EventBridge's ERROR_CODE and ERROR_MESSAGE for an
	// event a rule or the Pipe could not deliver, or the receive count of a
	// message SQS moved after maxReceiveCount deliveries.
	Reason string
}

// deadLetterPasses bounds the receives per queue; each returns up to ten.
const deadLetterPasses = 20

// DeadLetters lists, without consuming them, the messages in every queue of
// the template where a message ends that nothing will process: the
// dead-letter queues of the queues, of the rule targets and of the Pipe,
// and queues no function reads (the rejected-records queue).
func (o *Observer) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	read := map[string]bool{}
	for _, m := range o.p.Deployment.Template.EventSourceMappings() {
		read[m.Queue] = true
	}
	var out []DeadLetter
	for _, q := range o.p.Deployment.Template.Queues() {
		if !q.IsDLQ && !q.IsDeliveryDLQ && read[q.LogicalID] {
			continue
		}
		if !o.p.Deployment.Created(q.LogicalID) {
			continue
		}
		held, err := o.peek(ctx, q.LogicalID)
		if err != nil {
			return nil, err
		}
		out = append(out, held...)
	}
	return out, nil
}

// peek receives queue's messages with a zero visibility timeout, so they
// stay where they are, until a pass brings nothing new.
func (o *Observer) peek(ctx context.Context, logicalID string) ([]DeadLetter, error) {
	url, err := o.p.Ref(logicalID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []DeadLetter
	for range deadLetterPasses {
		res, err := o.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 0,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			return nil, fmt.Errorf("read dead letters of %s: %w", logicalID, err)
		}
		fresh := 0
		for _, m := range res.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id], fresh = true, fresh+1
			out = append(out, DeadLetter{Queue: logicalID, MessageID: id, Body: aws.ToString(m.Body), Reason: deadLetterReason(m)})
		}
		if fresh == 0 {
			break
		}
	}
	return out, nil
}

// deadLetterReason reads why a message was dead-lettered from what its
// sender attached.
func deadLetterReason(m sqstypes.Message) string {
	attr := func(k string) string { return aws.ToString(m.MessageAttributes[k].StringValue) }
	switch {
	case attr("failure_reason") != "":
		return attr("failure_reason")
	case attr("ERROR_CODE") != "" || attr("ERROR_MESSAGE") != "":
		// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
		return fmt.Sprintf("%s: %s", attr("ERROR_CODE"), attr("ERROR_MESSAGE"))
	case m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)] != "":
		return "received " + m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)] + " times without success (the queue's redrive policy moved it)"
	}
	return "no reason attached"
}
