package motoserver

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestRuleDeliveryCarriesTheAccount: an event a rule delivers whole carries
// the account it was put in, as on AWS.
func TestRuleDeliveryCarriesTheAccount(t *testing.T) {
	m := startOrSkip(t)
	ctx := context.Background()
	cfg := cfgWith(m, "test", "test", "")
	q, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("deliveries")})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("pushes"), EventPattern: aws.String(`{"source":["aws.ecr"]}`)}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:sqs:us-east-1:" + testAccount + ":deliveries"
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("pushes"), Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(arn)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("aws.ecr"), DetailType: aws.String("ECR Image Action"), Detail: aws.String(`{"action-type":"PUSH"}`),
	}}}); err != nil {
		t.Fatal(err)
	}
	out, err := sqs.NewFromConfig(cfg).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 2})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("received %d messages, err %v; want the event", len(out.Messages), err)
	}
	var ev struct {
		Account string `json:"account"`
		Source  string `json:"source"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Account != testAccount || ev.Source != "aws.ecr" {
		t.Errorf("delivered account %q source %q; want %s, aws.ecr", ev.Account, ev.Source, testAccount)
	}
}
