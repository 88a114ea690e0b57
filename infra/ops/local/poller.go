package local

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// QueueAPI is the part of the SQS client the poller uses.
type QueueAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Poller plays a Lambda event source mapping for an SQS queue: it receives
// batches, invokes the function with an SQSEvent, deletes what succeeded and
// leaves the failures to SQS — whose redrive policy moves a message to the
// dead-letter queue after maxReceiveCount receives — after a short backoff.
type Poller struct {
	Function    Invoker
	Name        string
	QueueURL    string
	QueueARN    string
	BatchSize   int
	Concurrency int
	// Visibility hides a received message while the function handles it. It
	// is passed on every receive, as the queue's own setting would be, since
	// moto's CloudFormation does not apply a queue's VisibilityTimeout.
	Visibility time.Duration
	// RetryDelay is the visibility given back to a failed message (local runs
	// keep it short; in AWS it is the queue's visibility timeout).
	RetryDelay time.Duration
	// ReportBatchItemFailures follows the mapping's FunctionResponseTypes.
	ReportBatchItemFailures bool
	// TraceHeader, when set, gives each invocation its trace header, as
	// Lambda does for a function with active tracing; nil invokes untraced.
	TraceHeader func() string

	SQS QueueAPI
	// Retry, when set, is the client that gives a failed message back after
	// RetryDelay. That is the runner's shortcut, not something the event
	// source mapping does (it leaves the message to its visibility timeout),
	// so with IAM enforced it runs as the harness: the function's role need
	// not allow sqs:ChangeMessageVisibility for it. nil uses SQS.
	Retry  QueueAPI
	Logger *slog.Logger
	// OnResult is told how each invocation went (for progress output).
	OnResult func(function string, received, failed int, took time.Duration, err error)
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	if p.BatchSize <= 0 {
		p.BatchSize = 10
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 1
	}
	var wg sync.WaitGroup
	for i := 0; i < p.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := p.once(ctx); err != nil && ctx.Err() == nil {
					p.Logger.WarnContext(ctx, "poller: receive", slog.String("function", p.Name), slog.String("error", err.Error()))
					time.Sleep(500 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}

func (p *Poller) once(ctx context.Context) error {
	out, err := p.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(p.QueueURL),
		MaxNumberOfMessages: int32(min(p.BatchSize, 10)),
		// Short polls: moto's receive is only atomic when serialized, which
		// a long poll is not (see motoserver).
		WaitTimeSeconds:             0,
		VisibilityTimeout:           int32(max(p.Visibility, time.Second) / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return err
	}
	if len(out.Messages) == 0 {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		return nil
	}
	ev := awsevents.SQSEvent{Records: make([]awsevents.SQSMessage, len(out.Messages))}
	receipts := map[string]*string{}
	for i, m := range out.Messages {
		ev.Records[i] = toLambdaSQS(m, p.QueueARN)
		receipts[aws.ToString(m.MessageId)] = m.ReceiptHandle
	}
	payload, _ := json.Marshal(ev)
	start := time.Now()
	resp, err := p.Function.Invoke(ctx, payload, traceHeader(p.TraceHeader))
	failed := map[string]bool{}
	if err != nil {
		for id := range receipts {
			failed[id] = true
		}
	} else if p.ReportBatchItemFailures {
		var r awsevents.SQSEventResponse
		if json.Unmarshal(resp, &r) == nil {
			for _, f := range r.BatchItemFailures {
				failed[f.ItemIdentifier] = true
			}
		}
	}
	if p.OnResult != nil {
		p.OnResult(p.Name, len(receipts), len(failed), time.Since(start), err)
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for id, rh := range receipts {
		if failed[id] {
			retry := p.Retry
			if retry == nil {
				retry = p.SQS
			}
			_, _ = retry.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(p.QueueURL), ReceiptHandle: rh, VisibilityTimeout: int32(max(p.RetryDelay, time.Second) / time.Second),
			})
			continue
		}
		del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(del))), ReceiptHandle: rh})
	}
	if len(del) > 0 {
		if _, err := p.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: del}); err != nil {
			return err
		}
	}
	return nil
}

func traceHeader(next func() string) string {
	if next == nil {
		return ""
	}
	return next()
}

// toLambdaSQS renders an SDK message as the Lambda SQS event record.
func toLambdaSQS(m sqstypes.Message, queueARN string) awsevents.SQSMessage {
	attrs := make(map[string]string, len(m.Attributes))
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	mattrs := make(map[string]awsevents.SQSMessageAttribute, len(m.MessageAttributes))
	for k, v := range m.MessageAttributes {
		mattrs[k] = awsevents.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
	}
	return awsevents.SQSMessage{
		MessageId:         aws.ToString(m.MessageId),
		ReceiptHandle:     aws.ToString(m.ReceiptHandle),
		Body:              aws.ToString(m.Body),
		Md5OfBody:         aws.ToString(m.MD5OfBody),
		Attributes:        attrs,
		MessageAttributes: mattrs,
		EventSource:       "aws:sqs",
		EventSourceARN:    queueARN,
		AWSRegion:         "us-east-1",
	}
}
