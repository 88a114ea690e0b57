package snsnotify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

const testTopic = "arn:aws:sns:eu-west-1:123456789012:scanner-alerts"

// fakeSNS is a hand-written PublishAPI that records each request.
type fakeSNS struct {
	inputs []*sns.PublishInput
	err    error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.inputs = append(f.inputs, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

func validAlert() Alert {
	return Alert{
		Subject:    "Security Alert: team/app:v1",
		Body:       "CRITICAL: 1 vulnerability …",
		Attributes: map[string]string{"severity": "CRITICAL", "repository": "team/app", "kind": "vulnerabilities", "image_digest": "sha256:00"},
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		client  PublishAPI
		topic   string
		wantErr bool
	}{
		{"standard topic", &fakeSNS{}, testTopic, false},
		{"china partition", &fakeSNS{}, "arn:aws-cn:sns:cn-north-1:123456789012:alerts", false},
		{"nil client", nil, testTopic, true},
		{"empty ARN", &fakeSNS{}, "", true},
		{"topic name only", &fakeSNS{}, "scanner-alerts", true},
		{"queue ARN", &fakeSNS{}, "arn:aws:sqs:eu-west-1:123456789012:q", true},
		{"FIFO topic", &fakeSNS{}, testTopic + ".fifo", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.client, tc.topic)
			if tc.wantErr != (err != nil) {
				t.Errorf("New error = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestPublishSendsSubjectBodyAndStringAttributes(t *testing.T) {
	fake := &fakeSNS{}
	n, err := New(fake, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	a := validAlert()
	if err := n.Publish(context.Background(), a); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if len(fake.inputs) != 1 {
		t.Fatalf("%d Publish calls, want 1", len(fake.inputs))
	}
	in := fake.inputs[0]
	if aws.ToString(in.TopicArn) != testTopic || aws.ToString(in.Subject) != a.Subject || aws.ToString(in.Message) != a.Body {
		t.Errorf("published topic %q subject %q body %q", aws.ToString(in.TopicArn), aws.ToString(in.Subject), aws.ToString(in.Message))
	}
	if len(in.MessageAttributes) != len(a.Attributes) {
		t.Fatalf("%d attributes, want %d", len(in.MessageAttributes), len(a.Attributes))
	}
	for k, v := range a.Attributes {
		got := in.MessageAttributes[k]
		if aws.ToString(got.DataType) != "String" || aws.ToString(got.StringValue) != v {
			t.Errorf("attribute %s = %s %q, want String %q", k, aws.ToString(got.DataType), aws.ToString(got.StringValue), v)
		}
	}
}

func TestPublishOmitsEmptySubject(t *testing.T) {
	fake := &fakeSNS{}
	n, _ := New(fake, testTopic)
	a := validAlert()
	a.Subject, a.Attributes = "", nil
	if err := n.Publish(context.Background(), a); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if in := fake.inputs[0]; in.Subject != nil || in.MessageAttributes != nil {
		t.Errorf("subject %v, attributes %v; want both left out", in.Subject, in.MessageAttributes)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Alert)
		wantErr string
	}{
		{"valid", func(*Alert) {}, ""},
		{"subject of 99 characters", func(a *Alert) { a.Subject = strings.Repeat("s", 99) }, ""},
		{"subject of 100 characters", func(a *Alert) { a.Subject = strings.Repeat("s", 100) }, "over 99"},
		{"subject with a newline", func(a *Alert) { a.Subject = "Security Alert:\nx" }, "not printable ASCII"},
		{"subject with a tab", func(a *Alert) { a.Subject = "a\tb" }, "not printable ASCII"},
		{"subject with non-ASCII", func(a *Alert) { a.Subject = "Sicherheitswarnung für x" }, "not printable ASCII"},
		{"subject starting with a space", func(a *Alert) { a.Subject = " x" }, "starts with a space"},
		{"empty body", func(a *Alert) { a.Body = "" }, "empty body"},
		{"body not UTF-8", func(a *Alert) { a.Body = "x\xff" }, "not valid UTF-8"},
		{"body too large", func(a *Alert) { a.Body = strings.Repeat("b", MaxMessageBytes) }, "over 262144"},
		{"reserved attribute", func(a *Alert) { a.Attributes["AWS.trace"] = "x" }, "reserved"},
		{"attribute name with a space", func(a *Alert) { a.Attributes["image digest"] = "x" }, "not valid"},
		{"attribute name ending in a dot", func(a *Alert) { a.Attributes["kind."] = "x" }, "not valid"},
		{"empty attribute value", func(a *Alert) { a.Attributes["severity"] = "" }, "empty or non-UTF-8 value"},
		{"too many attributes", func(a *Alert) {
			for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
				a.Attributes[k] = "x"
			}
		}, "11 attributes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := validAlert()
			tc.mutate(&a)
			err := Validate(a)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate error = %v, want one mentioning %q", err, tc.wantErr)
			}
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("error %v does not wrap domain.ErrInvalid", err)
			}
		})
	}
}

func TestPublishSortsErrors(t *testing.T) {
	tests := []struct {
		name        string
		alert       Alert
		clientErr   error
		wantInvalid bool
		wantCalls   int
	}{
		{"invalid alert never reaches SNS", Alert{Subject: "x\n"}, nil, true, 0},
		{"SNS refuses a parameter", validAlert(), &types.InvalidParameterException{Message: aws.String("Invalid parameter: Subject")}, true, 1},
		{"SNS refuses a value", validAlert(), &types.InvalidParameterValueException{Message: aws.String("bad")}, true, 1},
		{"throttling may be retried", validAlert(), &types.ThrottledException{Message: aws.String("slow down")}, false, 1},
		{"network failure may be retried", validAlert(), errors.New("connection reset"), false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeSNS{err: tc.clientErr}
			n, _ := New(fake, testTopic)
			err := n.Publish(context.Background(), tc.alert)
			if err == nil {
				t.Fatal("Publish succeeded")
			}
			if got := errors.Is(err, domain.ErrInvalid); got != tc.wantInvalid {
				t.Errorf("errors.Is(%v, ErrInvalid) = %v, want %v", err, got, tc.wantInvalid)
			}
			if tc.clientErr != nil && !errors.Is(err, tc.clientErr) {
				t.Errorf("error %v does not wrap the client's", err)
			}
			if len(fake.inputs) != tc.wantCalls {
				t.Errorf("%d Publish calls, want %d", len(fake.inputs), tc.wantCalls)
			}
			if !strings.Contains(err.Error(), testTopic) {
				t.Errorf("error %q does not name the topic", err)
			}
		})
	}
}
