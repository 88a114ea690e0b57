package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"ecrscanner/events"
	"ecrscanner/infra/ops/stack"
)

// TagProbe is the tag key on everything the probe makes; its value is the
// run ID (the repository's is "repository").
const TagProbe = "ecrscan:probe"

// lifecyclePolicy expires probe images a day after their push, so that an
// image a run could not delete (or one kept with --keep) does not stay.
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
const lifecyclePolicy = `{"rules":[{"rulePriority":1,"description":"ecrscan probe images live a day","selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}`

// ensureRepository creates the probe repository if it is missing, tagged as
// the probe's, and (re)applies its lifecycle policy.
func (p *Prober) ensureRepository(ctx context.Context, st *stack.Deployed) error {
	_, err := p.c.ECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName: aws.String(p.opts.Repository),
		Tags:           []ecrtypes.Tag{{Key: aws.String(TagProbe), Value: aws.String("repository")}, {Key: aws.String("ecrscan:stack"), Value: aws.String(st.Name)}},
	})
	var exists *ecrtypes.RepositoryAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		if err := p.ownRepository(ctx, st); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("create probe repository %s: %w", p.opts.Repository, err)
	}
	if _, err := p.c.ECR.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(p.opts.Repository), LifecyclePolicyText: aws.String(lifecyclePolicy)}); err != nil {
		return fmt.Errorf("lifecycle policy of %s: %w", p.opts.Repository, err)
	}
	return nil
}

// ownRepository refuses a repository the probe did not create (it lacks
// the probe tag): the probe pushes to, deletes from and sets the lifecycle
// policy of its own repository only.
func (p *Prober) ownRepository(ctx context.Context, st *stack.Deployed) error {
	out, err := p.c.ECR.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(st.ARN("ecr", "repository/"+p.opts.Repository))})
	if err != nil {
		return fmt.Errorf("probe repository %s: %w", p.opts.Repository, err)
	}
	for _, t := range out.Tags {
		if aws.ToString(t.Key) == TagProbe && aws.ToString(t.Value) == "repository" {
			return nil
		}
	}
	return fmt.Errorf("repository %s exists and is not the probe's (no %s=repository tag); the probe touches no other repository: name another with --probe-repository", p.opts.Repository, TagProbe)
}

// temporaries are what a run makes to watch its image go by; empty fields
// were not made.
type temporaries struct {
	queueURL, queueARN string
	rule, bus          string
	subscription       string
}

// watch makes the temporary queue, a rule on the image-scans bus sending it
// the events about the probe's digest, and a subscription of it to the alert
// topic filtered to the probe repository.
func (r *run) watch(ctx context.Context) error {
	bus, topic := r.physical("ImageScansBus"), r.physical("AlertTopic")
	if bus == "" || topic == "" {
		return fmt.Errorf("stack %s lists no ImageScansBus or AlertTopic", r.st.Name)
	}
	name := NamePrefix + r.id
	tags := map[string]string{TagProbe: r.id, "ecrscan:stack": r.st.Name}
	// Encrypted at rest with SQS's own keys (SSE-SQS), which neither
	// EventBridge nor SNS needs a key grant to send to.
	q, err := r.p.c.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Tags: tags, Attributes: map[string]string{"SqsManagedSseEnabled": "true"}})
	if err != nil {
		return fmt.Errorf("create probe queue %s: %w", name, err)
	}
	r.temp.queueURL = aws.ToString(q.QueueUrl)
	attrs, err := r.p.c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("probe queue %s: %w", name, err)
	}
	r.temp.queueARN = attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	ruleARN := r.st.ARN("events", "rule/"+bus+"/"+name)
	if err := r.allowSenders(ctx, ruleARN, topic); err != nil {
		return err
	}
	if err := r.busRule(ctx, bus, name, tags); err != nil {
		return err
	}
	return r.subscribe(ctx, topic)
}

// allowSenders lets the temporary rule and the alert topic send to the
// queue, and nothing else. SNS delivers to SQS only if the queue's policy
// allows sns.amazonaws.com for the topic, and EventBridge likewise:
// https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions
func (r *run) allowSenders(ctx context.Context, ruleARN, topicARN string) error {
	statement := func(sid, service, source string) map[string]any {
		return map[string]any{
			"Sid": sid, "Effect": "Allow", "Principal": map[string]any{"Service": service},
			"Action": "sqs:SendMessage", "Resource": r.temp.queueARN,
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": source}},
		}
	}
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
		statement("ProbeRule", "events.amazonaws.com", ruleARN), statement("AlertTopic", "sns.amazonaws.com", topicARN),
	}})
	if _, err := r.p.c.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(r.temp.queueURL), Attributes: map[string]string{"Policy": string(policy)}}); err != nil {
		return fmt.Errorf("probe queue policy: %w", err)
	}
	return nil
}

// busRule routes the bus's events about the probe's digest, as the
// handlers' rules route theirs (on detail, not detail-type), to the queue.
func (r *run) busRule(ctx context.Context, bus, name string, tags map[string]string) error {
	pattern, _ := json.Marshal(map[string]any{"source": []string{events.Source}, "detail": map[string]any{"digest": []string{r.ref.Digest.String()}}})
	var ebTags []ebtypes.Tag
	for k, v := range tags {
		ebTags = append(ebTags, ebtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := r.p.c.Events.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(name), EventBusName: aws.String(bus), EventPattern: aws.String(string(pattern)),
		Description: aws.String("ecrscan verify --probe run " + r.id + " (temporary; removed by the probe)"), Tags: ebTags,
	}); err != nil {
		return fmt.Errorf("create probe rule %s on %s: %w", name, bus, err)
	}
	r.temp.rule, r.temp.bus = name, bus
	if out, err := r.p.c.Events.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String(name), EventBusName: aws.String(bus), Targets: []ebtypes.Target{{Id: aws.String("probe"), Arn: aws.String(r.temp.queueARN)}},
	}); err != nil || out.FailedEntryCount > 0 {
		return fmt.Errorf("target of probe rule %s: %v (%d failed)", name, err, failedTargets(out))
	}
	return nil
}

func failedTargets(out *eventbridge.PutTargetsOutput) int32 {
	if out == nil {
		return 0
	}
	return out.FailedEntryCount
}

// subscribe subscribes the queue to the alert topic, filtered on the
// message attribute "repository" so that it receives the probe's alerts
// only: https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html
// An SQS endpoint of the topic's account needs no confirmation; with
// ReturnSubscriptionArn the answer is the ARN either way, never "pending
// confirmation", so Unsubscribe can always remove it:
// https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html
func (r *run) subscribe(ctx context.Context, topic string) error {
	filter, _ := json.Marshal(map[string][]string{"repository": {r.ref.Repository}})
	out, err := r.p.c.SNS.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topic), Protocol: aws.String("sqs"), Endpoint: aws.String(r.temp.queueARN),
		Attributes: map[string]string{"FilterPolicy": string(filter)}, ReturnSubscriptionArn: true,
	})
	if err != nil {
		return fmt.Errorf("subscribe the probe queue to %s: %w", topic, err)
	}
	r.temp.subscription = aws.ToString(out.SubscriptionArn)
	return nil
}
