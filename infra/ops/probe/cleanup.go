package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/securityhubstore"
)

// cleanupTimeout bounds the clean-up, which runs on a context of its own so
// that Ctrl-C does not cut it short.
const cleanupTimeout = 2 * time.Minute

// cleanup removes what the run made — the temporary subscription, rule and
// queue, the probe image and its referrers, its scan record, its archive
// objects — and archives its Security Hub findings, unless Keep. Each step
// is tried whatever the others did; the stage lists what could not be
// removed.
func (r *run) cleanup(ctx context.Context, interrupted bool) Stage {
	if r.p.opts.Keep {
		return Stage{Name: StageCleanup, Result: deployer.Skip, Detail: "--keep: left " + r.kept()}
	}
	settled := ""
	if interrupted && !r.pushT.IsZero() {
		settled = fmt.Sprintf(" (after letting the interrupted probe settle for %v)", r.settle(ctx).Round(time.Second))
	}
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	steps := []struct {
		what string
		fn   func(context.Context) error
	}{
		{"subscription", r.unsubscribe}, {"rule", r.deleteRule}, {"queue", r.deleteQueue},
	}
	if r.ref.Digest != "" {
		steps = append(steps, []struct {
			what string
			fn   func(context.Context) error
		}{{"image", r.deleteImage}, {"record", r.deleteRecord}, {"archive", r.deleteArchive}, {"findings", r.archiveFindings}}...)
	}
	var failed []string
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", s.what, err))
		}
	}
	if len(failed) > 0 {
		return Stage{Name: StageCleanup, Result: deployer.Fail, Detail: "left behind: " + strings.Join(failed, "; "), Cause: "remove them by hand; every probe resource is named " + NamePrefix + "* or tagged " + TagProbe}
	}
	return Stage{Name: StageCleanup, Result: deployer.Pass, Detail: "removed the probe image, record, archive objects and temporary rule, queue and subscription; archived its findings" + settled}
}

// kept names what --keep left, for the operator to inspect.
func (r *run) kept() string {
	parts := []string{"image " + r.ref.Display()}
	if r.temp.queueURL != "" {
		parts = append(parts, "queue "+r.temp.queueURL)
	}
	if r.temp.rule != "" {
		parts = append(parts, "rule "+r.temp.rule+" on "+r.temp.bus)
	}
	if r.temp.subscription != "" {
		parts = append(parts, "subscription "+r.temp.subscription)
	}
	return strings.Join(parts, ", ")
}

func (r *run) unsubscribe(ctx context.Context) error {
	if r.temp.subscription == "" {
		return nil
	}
	_, err := r.p.c.SNS.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(r.temp.subscription)})
	return err
}

// deleteRule removes the rule's target first: EventBridge refuses to delete
// a rule that has targets.
// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DeleteRule.html
func (r *run) deleteRule(ctx context.Context) error {
	if r.temp.rule == "" {
		return nil
	}
	if _, err := r.p.c.Events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(r.temp.rule), EventBusName: aws.String(r.temp.bus), Ids: []string{"probe"}}); err != nil {
		return err
	}
	_, err := r.p.c.Events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(r.temp.rule), EventBusName: aws.String(r.temp.bus)})
	return err
}

func (r *run) deleteQueue(ctx context.Context) error {
	if r.temp.queueURL == "" {
		return nil
	}
	_, err := r.p.c.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(r.temp.queueURL)})
	return err
}

// deleteImage deletes the probe image and the referrers the tag function
// attached to it, from the probe repository only. An image that is not
// there (never pushed, or a referrer ECR does not hold) is no failure.
func (r *run) deleteImage(ctx context.Context) error {
	ids := []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(r.ref.Digest.String())}}
	if refs, err := r.p.reg.Referrers(ctx, r.ref); err == nil {
		for _, d := range refs {
			ids = append(ids, ecrtypes.ImageIdentifier{ImageDigest: aws.String(d)})
		}
	}
	out, err := r.p.c.ECR.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(r.ref.Repository), ImageIds: ids})
	if err != nil {
		var noRepo *ecrtypes.RepositoryNotFoundException
		if errors.As(err, &noRepo) {
			return nil
		}
		return err
	}
	for _, f := range out.Failures {
		if f.FailureCode != ecrtypes.ImageFailureCodeImageNotFound {
			return fmt.Errorf("%s: %s", aws.ToString(f.ImageId.ImageDigest), aws.ToString(f.FailureReason))
		}
	}
	return nil
}

// deleteRecord deletes the probe digest's scan record; the digest is the
// run's own (its image holds the run ID), so no other image shares it.
func (r *run) deleteRecord(ctx context.Context) error {
	_, err := r.p.c.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(r.physical("ScansTable")),
		Key:       map[string]ddbtypes.AttributeValue{"digest": &ddbtypes.AttributeValueMemberS{Value: r.ref.Digest.String()}},
	})
	return err
}

func (r *run) deleteArchive(ctx context.Context) error {
	keys, err := r.archiveKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := r.p.c.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.physical("ResultsBucket")), Key: aws.String(k)}); err != nil {
			return err
		}
	}
	return nil
}

// archiveFindings archives the probe image's active findings the way their
// provider does: importing them again with RecordState ARCHIVED and a later
// UpdatedAt (Security Hub ignores an older one).
// https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html
func (r *run) archiveFindings(ctx context.Context) error {
	if r.st.Params["EnableSecurityHub"] == "false" {
		return nil
	}
	hub, err := r.hub()
	if err != nil {
		return err
	}
	fs, err := hub.Findings(ctx, r.findingPrefix())
	if err != nil {
		return err
	}
	var active []securityhubstore.Finding
	now := time.Now().UTC()
	for _, f := range fs {
		if f.RecordState == securityhubstore.RecordStateActive {
			f.RecordState, f.UpdatedAt = securityhubstore.RecordStateArchived, now
			active = append(active, f)
		}
	}
	return hub.Import(ctx, active)
}
