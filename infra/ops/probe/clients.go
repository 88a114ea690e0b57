package probe

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/xray"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/stack"
	"ecrscanner/infra/securityhubstore"
)

// The parts of each AWS API the probe calls: what the README lists as the
// probe's permissions.
type (
	// StackAPI reads the deployed stack and its template.
	StackAPI interface {
		stack.DescribeAPI
		stack.TemplateAPI
	}
	// TableAPI reads and deletes the probe digest's scan record.
	TableAPI interface {
		GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
		DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	}
	// BucketAPI lists and deletes the probe's archive objects.
	BucketAPI interface {
		ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
		DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	}
	// RepositoryAPI keeps the probe repository and deletes its images.
	RepositoryAPI interface {
		CreateRepository(ctx context.Context, in *ecr.CreateRepositoryInput, optFns ...func(*ecr.Options)) (*ecr.CreateRepositoryOutput, error)
		ListTagsForResource(ctx context.Context, in *ecr.ListTagsForResourceInput, optFns ...func(*ecr.Options)) (*ecr.ListTagsForResourceOutput, error)
		PutLifecyclePolicy(ctx context.Context, in *ecr.PutLifecyclePolicyInput, optFns ...func(*ecr.Options)) (*ecr.PutLifecyclePolicyOutput, error)
		BatchDeleteImage(ctx context.Context, in *ecr.BatchDeleteImageInput, optFns ...func(*ecr.Options)) (*ecr.BatchDeleteImageOutput, error)
	}
	// QueueAPI runs the temporary queue and reads the stack's DLQ depths.
	QueueAPI interface {
		CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
		GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
		SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
		ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
		DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
		DeleteQueue(ctx context.Context, in *sqs.DeleteQueueInput, optFns ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
	}
	// TopicAPI subscribes the temporary queue to the alert topic and back.
	TopicAPI interface {
		Subscribe(ctx context.Context, in *sns.SubscribeInput, optFns ...func(*sns.Options)) (*sns.SubscribeOutput, error)
		Unsubscribe(ctx context.Context, in *sns.UnsubscribeInput, optFns ...func(*sns.Options)) (*sns.UnsubscribeOutput, error)
	}
	// RuleAPI makes and removes the temporary rule on the image-scans bus.
	RuleAPI interface {
		PutRule(ctx context.Context, in *eventbridge.PutRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error)
		PutTargets(ctx context.Context, in *eventbridge.PutTargetsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error)
		RemoveTargets(ctx context.Context, in *eventbridge.RemoveTargetsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.RemoveTargetsOutput, error)
		DeleteRule(ctx context.Context, in *eventbridge.DeleteRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DeleteRuleOutput, error)
	}
	// TraceAPI reads the scan's trace.
	TraceAPI interface {
		BatchGetTraces(ctx context.Context, in *xray.BatchGetTracesInput, optFns ...func(*xray.Options)) (*xray.BatchGetTracesOutput, error)
	}
)

// The SDK clients are what the probe needs.
var (
	_ StackAPI             = (*cloudformation.Client)(nil)
	_ TableAPI             = (*dynamodb.Client)(nil)
	_ BucketAPI            = (*s3.Client)(nil)
	_ RepositoryAPI        = (*ecr.Client)(nil)
	_ QueueAPI             = (*sqs.Client)(nil)
	_ TopicAPI             = (*sns.Client)(nil)
	_ RuleAPI              = (*eventbridge.Client)(nil)
	_ securityhubstore.API = (*securityhub.Client)(nil)
	_ TraceAPI             = (*xray.Client)(nil)
)

// Clients are the AWS clients a Prober uses; every one must be set.
type Clients struct {
	CloudFormation StackAPI
	DynamoDB       TableAPI
	S3             BucketAPI
	ECR            RepositoryAPI
	SQS            QueueAPI
	SNS            TopicAPI
	Events         RuleAPI
	SecurityHub    securityhubstore.API
	XRay           TraceAPI
}

// NewClients makes the clients from cfg (the operator's credentials).
func NewClients(cfg aws.Config) Clients {
	return Clients{
		CloudFormation: cloudformation.NewFromConfig(cfg), DynamoDB: dynamodb.NewFromConfig(cfg),
		S3: s3.NewFromConfig(cfg, awsconfig.S3Options(cfg)), ECR: ecr.NewFromConfig(cfg),
		SQS: sqs.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg), Events: eventbridge.NewFromConfig(cfg),
		SecurityHub: securityhub.NewFromConfig(cfg), XRay: xray.NewFromConfig(cfg),
	}
}

func (c Clients) missing() []string {
	var out []string
	for _, x := range []struct {
		name  string
		isNil bool
	}{
		{"CloudFormation", c.CloudFormation == nil}, {"DynamoDB", c.DynamoDB == nil}, {"S3", c.S3 == nil},
		{"ECR", c.ECR == nil}, {"SQS", c.SQS == nil}, {"SNS", c.SNS == nil}, {"Events", c.Events == nil},
		{"SecurityHub", c.SecurityHub == nil}, {"XRay", c.XRay == nil},
	} {
		if x.isNil {
			out = append(out, x.name)
		}
	}
	return out
}
