package queue

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"ecrscanner/events"
)

// BatchSender is the part of the SQS API scan requests are sent with.
type BatchSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// MaxBatch is SendMessageBatch's limit of entries per call
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
const MaxBatch = 10

// SendScanRequests sends msgs to the scan queue at queueURL, MaxBatch to a
// call: the sweep's rescans, `ecrscan backfill` and `ecrscan rescan`. An
// entry a batch refuses is an error naming its image and the reason; the
// batches before it were sent.
func SendScanRequests(ctx context.Context, client BatchSender, queueURL string, msgs []events.ScanRequestMessage) error {
	for start := 0; start < len(msgs); start += MaxBatch {
		batch := msgs[start:min(start+MaxBatch, len(msgs))]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
		for i, m := range batch {
			body, err := m.Body()
			if err != nil {
				return err
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(body)}
		}
		out, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("send %d scan request(s) to %s: %w", len(batch), queueURL, err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			return fmt.Errorf("scan request for %s refused by %s: %s (%s)", batch[i].Ref.Display(), queueURL, aws.ToString(f.Message), aws.ToString(f.Code))
		}
	}
	return nil
}
