package consume

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

type fakeVisibility struct {
	hidden []time.Duration
	err    error
}

func (f *fakeVisibility) Hide(_ context.Context, queueARN, receipt string, d time.Duration) error {
	if queueARN == "" || receipt == "" {
		return errors.New("no queue or receipt")
	}
	f.hidden = append(f.hidden, d)
	return f.err
}

func TestBackoffSchedulesRetriesByReceiveCount(t *testing.T) {
	delays := []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute}
	tests := []struct {
		name     string
		err      error
		receives int
		want     []time.Duration
	}{
		{"success leaves the message alone", nil, 1, nil},
		{"first failure waits the first delay", errors.New("timeout"), 1, delays[:1]},
		{"third failure waits the third", errors.New("timeout"), 3, delays[2:3]},
		{"later failures keep the last delay", errors.New("timeout"), 9, delays[2:3]},
		{"a permanent failure is not retried", Permanent(errors.New("bad event")), 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &fakeVisibility{}
			h := Backoff(v, delays, slog.New(slog.NewTextHandler(io.Discard, nil)))(func(context.Context, Message) error { return tc.err })
			err := h(context.Background(), Message{ID: "m", ReceiveCount: tc.receives, ReceiptHandle: "r", QueueARN: "arn:aws:sqs:us-east-1:123456789012:scan"})
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v, want %v", err, tc.err)
			}
			if len(v.hidden) != len(tc.want) || (len(tc.want) == 1 && v.hidden[0] != tc.want[0]) {
				t.Errorf("hidden for %v, want %v", v.hidden, tc.want)
			}
		})
	}
}

func TestBackoffKeepsTheFailureWhenHidingFails(t *testing.T) {
	v := &fakeVisibility{err: errors.New("throttled")}
	want := errors.New("timeout")
	h := Backoff(v, []time.Duration{time.Minute}, slog.New(slog.NewTextHandler(io.Discard, nil)))(func(context.Context, Message) error { return want })
	if err := h(context.Background(), Message{ID: "m", ReceiveCount: 1, ReceiptHandle: "r", QueueARN: "arn"}); !errors.Is(err, want) {
		t.Errorf("error %v, want the handler's", err)
	}
}
