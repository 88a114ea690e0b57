package snsnotify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/mototest"
)

// A per-protocol alert reaches an SQS subscriber as its "sqs" message, with
// the same filter attributes.
func TestMotoPublishPerProtocol(t *testing.T) {
	cfg := mototest.Config(t)
	ctx := context.Background()
	snsClient, sqsClient := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	topic, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(mototest.UniqueName("alerts"))})
	if err != nil {
		t.Fatal(err)
	}
	raw := subscribedQueue(t, snsClient, sqsClient, aws.ToString(topic.TopicArn), true)
	n, err := New(snsClient, aws.ToString(topic.TopicArn))
	if err != nil {
		t.Fatal(err)
	}
	a := Alert{Subject: "s", Body: "text for email <b>", Attributes: map[string]string{"kind": "secrets"},
		Protocols: map[string]string{"sqs": `{"kind":"secrets"}`, "https": `{"version":"1.0"}`}}
	if err := n.Publish(ctx, a); err != nil {
		t.Fatal(err)
	}
	m := receiveOne(t, sqsClient, raw)
	if got := aws.ToString(m.Body); got != `{"kind":"secrets"}` {
		t.Errorf("sqs subscriber got %q, want its own message", got)
	}
	if aws.ToString(m.MessageAttributes["kind"].StringValue) != "secrets" {
		t.Errorf("filter attribute lost: %+v", m.MessageAttributes)
	}
}

func TestValidateProtocols(t *testing.T) {
	base := Alert{Subject: "s", Body: "b"}
	tests := []struct {
		name      string
		protocols map[string]string
		want      string
	}{
		{"unknown key", map[string]string{"slack": "x"}, `"slack" is not an SNS protocol`},
		{"empty message", map[string]string{"sqs": ""}, `"sqs" has an empty`},
		// Every protocol counts towards the one limit, JSON escaping included.
		{"together over the limit", map[string]string{"sqs": strings.Repeat("\"", MaxMessageBytes/4), "lambda": strings.Repeat("\"", MaxMessageBytes/4)}, "over 262144"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base
			a.Protocols = tt.protocols
			err := Validate(a)
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	msg, structured, err := Alert{Body: "<&>", Protocols: map[string]string{"sqs": "x"}}.Message()
	if err != nil || !structured || msg != `{"default":"<&>","sqs":"x"}` {
		t.Fatalf("Message = %q %v %v", msg, structured, err)
	}
}
