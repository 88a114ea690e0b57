package queue

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestQueueURL(t *testing.T) {
	tests := []struct {
		arn, want string
		ok        bool
	}{
		{"arn:aws:sqs:us-east-1:123456789012:stack-ScanQueue-1", "https://sqs.us-east-1.amazonaws.com/123456789012/stack-ScanQueue-1", true},
		{"arn:aws-cn:sqs:cn-north-1:123456789012:q", "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", true},
		{"arn:aws:sns:us-east-1:123456789012:topic", "", false},
		{"not an arn", "", false},
	}
	for _, tc := range tests {
		got, err := QueueURL(tc.arn)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("QueueURL(%q) = %q, %v; want %q", tc.arn, got, err, tc.want)
		}
	}
}

type fakeChanger struct {
	in *sqs.ChangeMessageVisibilityInput
}

func (f *fakeChanger) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.in = in
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func TestHideSetsTheVisibility(t *testing.T) {
	f := &fakeChanger{}
	v, _ := NewVisibility(f)
	if err := v.Hide(context.Background(), "arn:aws:sqs:us-east-1:123456789012:scan", "rh", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if f.in.VisibilityTimeout != 120 || aws.ToString(f.in.ReceiptHandle) != "rh" || aws.ToString(f.in.QueueUrl) != "https://sqs.us-east-1.amazonaws.com/123456789012/scan" {
		t.Errorf("input %+v", f.in)
	}
}
