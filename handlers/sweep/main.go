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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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
	access, err := ecrstore.NewRegistryAccess(sts.NewFromConfig(d.AWS), d.AWS, ecrstore.RegistryAccessSettings(d.Env, d.AWS.Region, "sweep"))
	d.Env.Check(err)
	usage := ecrUsage{client: newECR(d.AWS), access: access}
	send := sqsSender{client: sqs.NewFromConfig(d.AWS), url: s.queueURL}
	sw, err := NewSweeper(due, usage, send, s.sweep, d.Logger)
	if err != nil {
		return nil, err
	}
	// The schedule's input is not read: every run sweeps the same way.
	return func(ctx context.Context, _ json.RawMessage) (Report, error) { return sw.Run(ctx, time.Now()) }, nil
}

func newECR(cfg aws.Config) *ecr.Client {
	return ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.RetryMaxAttempts = ecrAttempts })
}

// ecrUsage is usageSource over ECR: the hub's own registry with the
// function's role, an organization member's through the spoke role there
// (as the scan function reads it).
type ecrUsage struct {
	client ecrstore.UsageAPI
	access *ecrstore.RegistryAccess // nil: every registry is the home one
}

// sweepSession names the sweep's sessions in member accounts.
const sweepSession = "sweep"

func (u ecrUsage) Describe(ctx context.Context, account, region, repository string, digests []domain.Digest) (map[domain.Digest]ecrstore.Usage, error) {
	if u.access == nil || u.access.Home(account, region) {
		return ecrstore.DescribeDigests(ctx, u.client, account, region, repository, digests)
	}
	cfg, err := u.access.Config(ctx, account, region, sweepSession)
	if err != nil {
		return nil, err
	}
	found, err := ecrstore.DescribeDigests(ctx, newECR(cfg), account, region, repository, digests)
	return found, u.access.AsRoleError(account, region, err)
}

// sqsSender is requestSender over the scan queue.
type sqsSender struct {
	client queue.BatchSender
	url    string
}

func (s sqsSender) Send(ctx context.Context, msgs []events.ScanRequestMessage) error {
	return queue.SendScanRequests(ctx, s.client, s.url, msgs)
}
