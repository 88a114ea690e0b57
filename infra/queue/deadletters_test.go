package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

type fakeSender struct {
	in  *sqs.SendMessageInput
	err error
}

func (f *fakeSender) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.in = in
	return &sqs.SendMessageOutput{}, f.err
}

func TestParkKeepsTheBodyAndSaysWhy(t *testing.T) {
	tests := []struct {
		name       string
		reason     string
		wantReason func(string) bool
	}{
		{"short reason", "invalid bus event: unexpected end of JSON input", func(r string) bool { return r == "invalid bus event: unexpected end of JSON input" }},
		{"long reason is bounded and stays UTF-8", strings.Repeat("é", 3000), func(r string) bool { return len(r) <= maxReason && utf8.ValidString(r) && r != "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSender{}
			d, err := NewDeadLetters(f, "https://sqs.us-east-1.amazonaws.com/123456789012/dlq")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Park(context.Background(), "m-1", `{"poison":true}`, tc.reason); err != nil {
				t.Fatal(err)
			}
			if aws.ToString(f.in.MessageBody) != `{"poison":true}` || aws.ToString(f.in.QueueUrl) == "" {
				t.Errorf("sent %q to %q", aws.ToString(f.in.MessageBody), aws.ToString(f.in.QueueUrl))
			}
			if got := aws.ToString(f.in.MessageAttributes["failure_reason"].StringValue); !tc.wantReason(got) {
				t.Errorf("failure_reason = %.80q", got)
			}
			if got := aws.ToString(f.in.MessageAttributes["original_message_id"].StringValue); got != "m-1" {
				t.Errorf("original_message_id = %q", got)
			}
		})
	}
}

func TestParkReportsSendFailures(t *testing.T) {
	d, _ := NewDeadLetters(&fakeSender{err: errors.New("throttled")}, "url")
	if err := d.Park(context.Background(), "m-1", "b", "r"); err == nil || !strings.Contains(err.Error(), "m-1") {
		t.Errorf("Park = %v; want an error naming the message", err)
	}
	if _, err := NewDeadLetters(nil, ""); err == nil {
		t.Error("NewDeadLetters accepted no client and no URL")
	}
}
