package consume_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/handlers/consume"
)

func TestBatchReportsOnlyFailedMessages(t *testing.T) {
	retryable := errors.New("SNS throttled")
	tests := []struct {
		name     string
		outcomes map[string]error // by message ID; missing: success
		messages int
		failed   []string
		wantJSON string
	}{
		{name: "all succeed", messages: 3, wantJSON: `{"batchItemFailures":null}`},
		{name: "empty batch", messages: 0, wantJSON: `{"batchItemFailures":null}`},
		{
			name: "one of three fails", messages: 3,
			outcomes: map[string]error{"m2": retryable},
			failed:   []string{"m2"},
			wantJSON: `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`,
		},
		{
			name: "failures keep the batch order, permanent ones included", messages: 4,
			outcomes: map[string]error{"m4": retryable, "m1": consume.Permanent(retryable)},
			failed:   []string{"m1", "m4"},
			wantJSON: `{"batchItemFailures":[{"itemIdentifier":"m1"},{"itemIdentifier":"m4"}]}`,
		},
		{
			name: "all fail", messages: 2,
			outcomes: map[string]error{"m1": retryable, "m2": retryable},
			failed:   []string{"m1", "m2"},
			wantJSON: `{"batchItemFailures":[{"itemIdentifier":"m1"},{"itemIdentifier":"m2"}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var bodies []string
			for i := 0; i < tc.messages; i++ {
				bodies = append(bodies, fmt.Sprintf("body %d", i+1))
			}
			var seen []string
			h := func(_ context.Context, m consume.Message) error {
				seen = append(seen, m.ID+"="+m.Body)
				return tc.outcomes[m.ID]
			}
			resp, err := consume.Batch(h)(context.Background(), sqsEvent(bodies...))
			if err != nil {
				t.Fatalf("batch error %v: a failing message must not fail the whole batch", err)
			}
			if got := strings.Join(failedIDs(resp), ","); got != strings.Join(tc.failed, ",") {
				t.Errorf("failed %q, want %q", got, strings.Join(tc.failed, ","))
			}
			// Every message is handled, in order, whatever happened before it.
			if len(seen) != tc.messages {
				t.Errorf("handled %q, want all %d messages", seen, tc.messages)
			}
			for i, s := range seen {
				if want := fmt.Sprintf("m%d=body %d", i+1, i+1); s != want {
					t.Errorf("message %d handled as %q, want %q", i, s, want)
				}
			}
			b, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.wantJSON {
				t.Errorf("response %s, want %s", b, tc.wantJSON)
			}
		})
	}
}

func TestFromSQS(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name  string
		in    awsevents.SQSMessage
		count int
		attrs map[string]string
	}{
		{
			name:  "first receive",
			in:    awsevents.SQSMessage{MessageId: "a", Body: "{}", Attributes: map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1717402692000"}},
			count: 1, attrs: map[string]string{},
		},
		{
			name:  "redelivered",
			in:    awsevents.SQSMessage{MessageId: "a", Body: "{}", Attributes: map[string]string{"ApproximateReceiveCount": "4"}},
			count: 4, attrs: map[string]string{},
		},
		{
			name:  "no receive count",
			in:    awsevents.SQSMessage{MessageId: "a", Body: "{}"},
			count: 0, attrs: map[string]string{},
		},
		{
			name:  "unreadable receive count",
			in:    awsevents.SQSMessage{MessageId: "a", Body: "{}", Attributes: map[string]string{"ApproximateReceiveCount": "many"}},
			count: 0, attrs: map[string]string{},
		},
		{
			name: "string attributes kept, binary ones dropped",
			in: awsevents.SQSMessage{MessageId: "a", Body: "{}", MessageAttributes: map[string]awsevents.SQSMessageAttribute{
				"failure_reason": {DataType: "String", StringValue: str("panic")},
				"attempt":        {DataType: "Number", StringValue: str("3")},
				"blob":           {DataType: "Binary", BinaryValue: []byte{1, 2}},
			}},
			attrs: map[string]string{"failure_reason": "panic", "attempt": "3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := consume.FromSQS(tc.in)
			if m.ID != tc.in.MessageId || m.Body != tc.in.Body {
				t.Errorf("id %q body %q, want %q %q", m.ID, m.Body, tc.in.MessageId, tc.in.Body)
			}
			if m.ReceiveCount != tc.count {
				t.Errorf("receive count %d, want %d", m.ReceiveCount, tc.count)
			}
			if len(m.Attributes) != len(tc.attrs) {
				t.Errorf("attributes %v, want %v", m.Attributes, tc.attrs)
			}
			for k, v := range tc.attrs {
				if m.Attributes[k] != v {
					t.Errorf("attribute %s = %q, want %q", k, m.Attributes[k], v)
				}
			}
		})
	}
}

func TestChainOrder(t *testing.T) {
	var trace []string
	mw := func(name string) consume.Middleware {
		return func(next consume.Handler) consume.Handler {
			return func(ctx context.Context, m consume.Message) error {
				trace = append(trace, name+">")
				err := next(ctx, m)
				trace = append(trace, "<"+name)
				return err
			}
		}
	}
	h := func(context.Context, consume.Message) error { trace = append(trace, "handler"); return nil }
	tests := []struct {
		name string
		mws  []consume.Middleware
		want string
	}{
		{name: "no middleware", want: "handler"},
		{name: "one", mws: []consume.Middleware{mw("a")}, want: "a> handler <a"},
		{name: "first is outermost", mws: []consume.Middleware{mw("a"), mw("b"), mw("c")}, want: "a> b> c> handler <c <b <a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trace = nil
			if err := consume.Chain(h, tc.mws...)(context.Background(), consume.Message{ID: "m1"}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(trace, " "); got != tc.want {
				t.Errorf("order %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("report is not gzip")
	tests := []struct {
		name      string
		err       error
		permanent bool
	}{
		{name: "nil", err: nil},
		{name: "plain error", err: base},
		{name: "marked", err: consume.Permanent(base), permanent: true},
		{name: "marked, then wrapped", err: fmt.Errorf("archive sha256:ab: %w", consume.Permanent(base)), permanent: true},
		{name: "marked twice", err: consume.Permanent(consume.Permanent(base)), permanent: true},
		// One permanent part must not park a message whose other parts may
		// yet succeed; Join marks the whole when every part is permanent.
		{name: "joined with a plain error", err: errors.Join(errors.New("other"), consume.Permanent(base))},
		{name: "joined, then marked as a whole", err: consume.Permanent(errors.Join(errors.New("other"), base)), permanent: true},
		{name: "wrapped as text only", err: fmt.Errorf("archive: %v", consume.Permanent(base))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := consume.IsPermanent(tc.err); got != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.permanent)
			}
		})
	}
	if consume.Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil: a success would be reported as a failure")
	}
	p := consume.Permanent(base)
	if !errors.Is(p, base) || p.Error() != base.Error() {
		t.Errorf("Permanent changes the error: %q, Is %v", p, errors.Is(p, base))
	}
}

// Standard composes the middleware every function uses; these cases check
// the composition, each middleware having its own test.
func TestStandard(t *testing.T) {
	retryable := errors.New("S3 unavailable")
	handler := func(_ context.Context, m consume.Message) error {
		switch m.Body {
		case "panic":
			panic("index out of range [3] with length 3")
		case "retry":
			return retryable
		case "bad":
			return consume.Permanent(errors.New("report missing"))
		}
		return nil
	}
	tests := []struct {
		name       string
		dlq        *fakeDeadLetters
		failed     []string
		parked     []string // message IDs
		reasonHas  map[string]string
		logFailure []string // IDs logged as failed
	}{
		{
			name:       "permanent failures and panics are parked, the rest of the batch still runs",
			dlq:        &fakeDeadLetters{},
			failed:     []string{"m2"},
			parked:     []string{"m1", "m3"},
			reasonHas:  map[string]string{"m1": "panic handling message m1: index out of range", "m3": "report missing"},
			logFailure: []string{"m1", "m2", "m3"}, // every failure is logged as it happened, parked or not
		},
		{
			name:       "without a dead-letter queue they fail like any other message",
			failed:     []string{"m1", "m2", "m3"},
			logFailure: []string{"m1", "m2", "m3"},
		},
		{
			name:       "parking fails: SQS redelivers them",
			dlq:        &fakeDeadLetters{err: errors.New("SQS down")},
			failed:     []string{"m1", "m2", "m3"},
			logFailure: []string{"m1", "m2", "m3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogSink()
			var dlq consume.DeadLetters
			if tc.dlq != nil {
				dlq = tc.dlq
			}
			var handled []string
			h := func(ctx context.Context, m consume.Message) error {
				handled = append(handled, m.ID)
				return handler(ctx, m)
			}
			resp, err := consume.Batch(consume.Standard(h, logs.logger, dlq))(context.Background(), sqsEvent("panic", "retry", "bad", "ok"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(handled, ","); got != "m1,m2,m3,m4" {
				t.Errorf("handled %s, want every message", got)
			}
			if got := strings.Join(failedIDs(resp), ","); got != strings.Join(tc.failed, ",") {
				t.Errorf("failed %q, want %q", got, strings.Join(tc.failed, ","))
			}
			if tc.dlq != nil {
				var parked []string
				for _, p := range tc.dlq.messages() {
					parked = append(parked, p.id)
					if want := tc.reasonHas[p.id]; !strings.Contains(p.reason, want) {
						t.Errorf("%s parked with reason %q, want it to say %q", p.id, p.reason, want)
					}
				}
				if got := strings.Join(parked, ","); got != strings.Join(tc.parked, ",") {
					t.Errorf("parked %q, want %q", got, strings.Join(tc.parked, ","))
				}
			}
			var logged []string
			for _, l := range logs.find(t, "message failed") {
				logged = append(logged, l["message_id"].(string))
			}
			want := tc.logFailure
			if want == nil {
				want = tc.failed
			}
			if got := strings.Join(logged, ","); got != strings.Join(want, ",") {
				t.Errorf("failures logged for %q, want %q", got, strings.Join(want, ","))
			}
		})
	}
}
