// Command sweep is the continuous-rescan function: an EventBridge Scheduler
// schedule invokes it; it reads the scans table's sparse RescanIndex for
// completed scans older than RescanAfterDays, keeps those whose image ECR
// still holds and saw pushed or pulled within RescanWindowDays, and sends
// their rescan requests to the scan queue at a configured rate.
package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/queue"
	"ecrscanner/infra/startup"
)

func main() { startup.Scheduled("sweep", build) }

// ecrAttempts is how often a throttled ECR call is tried: the SDK's
// standard retryer backs off exponentially with jitter between attempts
// (https://docs.aws.amazon.com/sdk-for-go/v2/developer-guide/configure-retries-timeouts.html);
// DescribeImages shares the account's ECR request rate with every other caller.
const ecrAttempts = 8

func build(_ context.Context, d startup.Deps) (func(context.Context, json.RawMessage) (Report, error), error) {
	s := loadSettings(d.Env)
	due, err := dynamostore.NewDueScans(dynamodb.NewFromConfig(d.AWS), s.table)
	d.Env.Check(err)
	usage := ecrUsage{client: ecr.NewFromConfig(d.AWS, func(o *ecr.Options) { o.RetryMaxAttempts = ecrAttempts })}
	send := sqsSender{client: sqs.NewFromConfig(d.AWS), url: s.queueURL}
	sw, err := NewSweeper(due, usage, send, s.sweep, d.Logger)
	if err != nil {
		return nil, err
	}
	// The schedule's input is not read: every run sweeps the same way.
	return func(ctx context.Context, _ json.RawMessage) (Report, error) { return sw.Run(ctx, time.Now()) }, nil
}

// ecrUsage is usageSource over ECR.
type ecrUsage struct{ client ecrstore.UsageAPI }

func (u ecrUsage) Describe(ctx context.Context, account, region, repository string, digests []domain.Digest) (map[domain.Digest]ecrstore.Usage, error) {
	return ecrstore.DescribeDigests(ctx, u.client, account, region, repository, digests)
}

// sqsSender is requestSender over the scan queue.
type sqsSender struct {
	client queue.BatchSender
	url    string
}

func (s sqsSender) Send(ctx context.Context, msgs []events.ScanRequestMessage) error {
	return queue.SendScanRequests(ctx, s.client, s.url, msgs)
}
