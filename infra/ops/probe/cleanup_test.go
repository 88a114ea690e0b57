package probe_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/probe"
)

// checkCleanedUp checks that the run left nothing behind: no temporary
// queue, rule or subscription, no probe image, scan record or archive
// object, and no active Security Hub finding.
func checkCleanedUp(t *testing.T, p *local.Pipeline, rep probe.Report) {
	t.Helper()
	ctx, cfg := context.Background(), operator(t)
	if rep.Run == "" || rep.Digest == "" {
		t.Fatalf("report names no run or digest: %+v", rep)
	}
	name := probe.NamePrefix + rep.Run
	if qs, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(name)}); err != nil || len(qs.QueueUrls) > 0 {
		t.Errorf("temporary queue left: %v %v", qs.QueueUrls, err)
	}
	bus, _ := p.Ref("ImageScansBus")
	if rules, err := eventbridge.NewFromConfig(cfg).ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(bus), NamePrefix: aws.String(name)}); err != nil || len(rules.Rules) > 0 {
		t.Errorf("temporary rule left: %v %v", rules.Rules, err)
	}
	topic, _ := p.Ref("AlertTopic")
	subs, err := sns.NewFromConfig(cfg).ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs.Subscriptions {
		if strings.Contains(aws.ToString(s.Endpoint), name) {
			t.Errorf("temporary subscription left: %s", aws.ToString(s.SubscriptionArn))
		}
	}
	_, err = ecr.NewFromConfig(cfg).DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(probe.DefaultRepository), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(rep.Digest)}}})
	var gone *ecrtypes.ImageNotFoundException
	if !errors.As(err, &gone) {
		t.Errorf("probe image %s: %v; want it deleted", rep.Digest, err)
	}
	ref, err := domain.NewImageRef(local.Account, local.Region, probe.DefaultRepository, rep.Digest, "")
	if err != nil {
		t.Fatal(err)
	}
	obs := p.Observer(cfg)
	if _, ok, err := obs.Record(ctx, ref.Digest); ok || err != nil {
		t.Errorf("probe scan record left (%v)", err)
	}
	if _, keys, err := obs.ArchiveObjects(ctx, ref.Repository, ref.Digest); err != nil || len(keys) > 0 {
		t.Errorf("archive objects left: %v %v", keys, err)
	}
	if n, err := obs.SecurityHubFindings(ctx, ref); err != nil || n > 0 {
		t.Errorf("%d active Security Hub findings left (%v)", n, err)
	}
}
