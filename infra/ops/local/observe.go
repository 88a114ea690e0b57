package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"ecrscanner/domain"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/s3store"
)

// Observer reads the effects of the pipeline where people look for them: the
// scans table, the results bucket, the repository's tags and the alerts
// published to the topic. The logical IDs are the template's (pinned by its
// tests).
type Observer struct {
	p   *Pipeline
	ddb *dynamodb.Client
	s3  *s3.Client
	ecr *ecr.Client
	sqs *sqs.Client
	hub *securityhub.Client
}

// Observer returns an observer of this pipeline's effects.
func (p *Pipeline) Observer(cfg aws.Config) *Observer {
	return &Observer{p: p, ddb: dynamodb.NewFromConfig(cfg), s3: s3.NewFromConfig(cfg, awsconfig.S3Options(cfg)), ecr: ecr.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), hub: securityhub.NewFromConfig(cfg)}
}

// Record reads the scan record of d; false if there is none yet.
func (o *Observer) Record(ctx context.Context, d domain.Digest) (domain.ScanRecord, bool, error) {
	table, err := o.p.Ref("ScansTable")
	if err != nil {
		return domain.ScanRecord{}, false, err
	}
	out, err := o.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"digest": &ddbtypes.AttributeValueMemberS{Value: d.String()}},
	})
	if err != nil || len(out.Item) == 0 {
		return domain.ScanRecord{}, false, err
	}
	rec, err := dynamostore.UnmarshalScanRecord(out.Item)
	return rec, err == nil, err
}

// ArchiveObjects lists the archive objects of d in repository.
func (o *Observer) ArchiveObjects(ctx context.Context, repository string, d domain.Digest) (bucket string, keys []string, err error) {
	bucket, err = o.p.Ref("ResultsBucket")
	if err != nil {
		return "", nil, err
	}
	prefix := path.Dir(s3store.ArchiveKey(repository, d, time.Time{})) + "/"
	out, err := o.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		return bucket, nil, err
	}
	for _, obj := range out.Contents {
		keys = append(keys, aws.ToString(obj.Key))
	}
	return bucket, keys, nil
}

// RepositoryTags reads the tags of ref's repository.
func (o *Observer) RepositoryTags(ctx context.Context, ref domain.ImageRef) (map[string]string, error) {
	arn := fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", ref.Region, ref.Account, ref.Repository)
	out, err := o.ecr.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range out.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// Alert is one message published to the alert topic.
type Alert struct {
	Subject    string
	Message    string
	Attributes map[string]string
}

// Alerts takes the alerts that reached the observer queue since the last call.
func (o *Observer) Alerts(ctx context.Context) ([]Alert, error) {
	if o.p.ObserverQueue == "" {
		return nil, errors.New("no alert observer queue")
	}
	out, err := o.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(o.p.ObserverQueue), MaxNumberOfMessages: 10})
	if err != nil {
		return nil, err
	}
	var alerts []Alert
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		var env struct {
			Subject           string
			Message           string
			MessageAttributes map[string]struct{ Type, Value string }
		}
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
			return nil, fmt.Errorf("alert observer: not an SNS notification: %w", err)
		}
		a := Alert{Subject: env.Subject, Message: env.Message, Attributes: map[string]string{}}
		for k, v := range env.MessageAttributes {
			a.Attributes[k] = v.Value
		}
		alerts = append(alerts, a)
		del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(del) > 0 {
		if _, err := o.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(o.p.ObserverQueue), Entries: del}); err != nil {
			return alerts, err
		}
	}
	return alerts, nil
}

// QueueDepth is the number of messages visible in a template queue.
func (o *Observer) QueueDepth(ctx context.Context, logicalID string) (int, error) {
	url, err := o.p.Ref(logicalID)
	if err != nil {
		return 0, err
	}
	out, err := o.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, err
	}
	var n int
	_, err = fmt.Sscan(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)], &n)
	return n, err
}

// SecurityHubFindings counts the active Security Hub findings about ref's
// image in ref's repository.
func (o *Observer) SecurityHubFindings(ctx context.Context, ref domain.ImageRef) (int, error) {
	in := &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)}
	n := 0
	for {
		out, err := o.hub.GetFindings(ctx, in)
		if err != nil {
			return n, err
		}
		for _, f := range out.Findings {
			if f.RecordState == shtypes.RecordStateArchived {
				continue
			}
			for _, r := range f.Resources {
				if img := r.Details; img != nil && img.AwsEcrContainerImage != nil &&
					aws.ToString(img.AwsEcrContainerImage.ImageDigest) == ref.Digest.String() &&
					aws.ToString(img.AwsEcrContainerImage.RepositoryName) == ref.Repository {
					n++
					break
				}
			}
		}
		if out.NextToken == nil || aws.ToString(out.NextToken) == aws.ToString(in.NextToken) {
			return n, nil
		}
		in.NextToken = out.NextToken
	}
}

// QueueLoad is the number of messages in a template queue, visible or in
// flight: zero means nothing is waiting there and nothing is being handled.
func (o *Observer) QueueLoad(ctx context.Context, logicalID string) (int, error) {
	url, err := o.p.Ref(logicalID)
	if err != nil {
		return 0, err
	}
	out, err := o.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, k := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		var n int
		if _, err := fmt.Sscan(out.Attributes[string(k)], &n); err != nil {
			return 0, fmt.Errorf("queue %s: %s: %w", logicalID, k, err)
		}
		total += n
	}
	return total, nil
}
