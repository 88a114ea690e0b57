package snsnotify

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"ecrscanner/infra/ops/mototest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// subscribedQueue creates a queue subscribed to topicARN and returns its URL.
func subscribedQueue(t *testing.T, snsClient *sns.Client, sqsClient *sqs.Client, topicARN string, raw bool) string {
	t.Helper()
	ctx := context.Background()
	q, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(mototest.UniqueName("alerts"))})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	attrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	_, err = snsClient.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn:   aws.String(topicARN),
		Protocol:   aws.String("sqs"),
		Endpoint:   aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
		Attributes: map[string]string{"RawMessageDelivery": strconv.FormatBool(raw)},
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return aws.ToString(q.QueueUrl)
}

func receiveOne(t *testing.T, sqsClient *sqs.Client, queueURL string) sqstypes.Message {
	t.Helper()
	out, err := sqsClient.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl:              aws.String(queueURL),
		MaxNumberOfMessages:   10,
		WaitTimeSeconds:       2,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("queue holds %d messages, want 1", len(out.Messages))
	}
	return out.Messages[0]
}

func TestMotoPublishReachesSubscribedQueues(t *testing.T) {
	cfg := mototest.Config(t)
	ctx := context.Background()
	snsClient, sqsClient := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	topic, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(mototest.UniqueName("alerts"))})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	topicARN := aws.ToString(topic.TopicArn)
	envelopeQueue := subscribedQueue(t, snsClient, sqsClient, topicARN, false)
	rawQueue := subscribedQueue(t, snsClient, sqsClient, topicARN, true)

	n, err := New(snsClient, topicARN)
	if err != nil {
		t.Fatal(err)
	}
	a := Alert{
		Subject: "Security Alert: team/app:v1.2.3",
		Body:    "CRITICAL: 1 vulnerability at or above HIGH in team/app:v1.2.3\n\nopenssl 3.1.0-r0 → 3.1.5-r0\n",
		Attributes: map[string]string{
			"severity":     "CRITICAL",
			"repository":   "team/app",
			"kind":         "vulnerabilities_and_secrets",
			"image_digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		},
	}
	if err := n.Publish(ctx, a); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	t.Run("raw delivery off: SNS envelope", func(t *testing.T) {
		m := receiveOne(t, sqsClient, envelopeQueue)
		var env struct {
			Type              string
			TopicArn          string
			Subject           string
			Message           string
			MessageAttributes map[string]struct{ Type, Value string }
		}
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
			t.Fatalf("envelope is not JSON: %v\n%s", err, aws.ToString(m.Body))
		}
		if env.Type != "Notification" || env.TopicArn != topicARN || env.Subject != a.Subject || env.Message != a.Body {
			t.Errorf("envelope = %+v, want a notification from %s with the alert's subject and body", env, topicARN)
		}
		if len(env.MessageAttributes) != len(a.Attributes) {
			t.Errorf("envelope has %d attributes, want %d", len(env.MessageAttributes), len(a.Attributes))
		}
		for k, v := range a.Attributes {
			if got := env.MessageAttributes[k]; got.Type != "String" || got.Value != v {
				t.Errorf("attribute %s = %+v, want String %q", k, got, v)
			}
		}
	})

	t.Run("raw delivery on: body and SQS attributes", func(t *testing.T) {
		m := receiveOne(t, sqsClient, rawQueue)
		if got := aws.ToString(m.Body); got != a.Body {
			t.Errorf("raw body = %q, want %q", got, a.Body)
		}
		if len(m.MessageAttributes) != len(a.Attributes) {
			t.Errorf("message has %d attributes, want %d", len(m.MessageAttributes), len(a.Attributes))
		}
		for k, v := range a.Attributes {
			got := m.MessageAttributes[k]
			if aws.ToString(got.DataType) != "String" || aws.ToString(got.StringValue) != v {
				t.Errorf("attribute %s = %s %q, want String %q", k, aws.ToString(got.DataType), aws.ToString(got.StringValue), v)
			}
		}
	})
}
