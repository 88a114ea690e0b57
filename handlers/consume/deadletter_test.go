package consume_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"ecrscanner/handlers/consume"
)

func TestDeadLetter(t *testing.T) {
	cause := errors.New("report is not gzip")
	retryable := errors.New("S3 unavailable")
	tests := []struct {
		name      string
		handler   error
		parkErr   error
		parked    bool
		wantNil   bool
		wantIs    error
		permanent bool
		msg       string
	}{
		{name: "success is left alone", wantNil: true},
		{name: "retryable failure is returned for SQS to retry", handler: retryable, wantIs: retryable},
		{name: "permanent failure is parked and settled", handler: consume.Permanent(cause), parked: true, wantNil: true},
		{
			name: "wrapped permanent failure is parked too", handler: fmt.Errorf("archive sha256:ab: %w", consume.Permanent(cause)),
			parked: true, wantNil: true,
		},
		{
			name: "a join with one permanent part is retried, not parked", handler: errors.Join(consume.Permanent(cause), retryable),
			wantIs: retryable,
		},
		{
			name: "park failure keeps the original error", handler: consume.Permanent(cause), parkErr: errors.New("SQS access denied"),
			wantIs: cause, permanent: true, msg: "parking it failed: SQS access denied",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dlq := &fakeDeadLetters{err: tc.parkErr}
			logs := newLogSink()
			h := consume.DeadLetter(dlq, logs.logger)(func(context.Context, consume.Message) error { return tc.handler })
			err := h(context.Background(), consume.Message{ID: "m-9", Body: `{"detail":{}}`})

			switch {
			case tc.wantNil && err != nil:
				t.Errorf("error %v, want the message settled", err)
			case !tc.wantNil && !errors.Is(err, tc.wantIs):
				t.Errorf("error %v, want one wrapping %v", err, tc.wantIs)
			}
			if !tc.wantNil && consume.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent %v, want %v", consume.IsPermanent(err), tc.permanent)
			}
			if tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
				t.Errorf("error %v does not say %q", err, tc.msg)
			}

			parked := dlq.messages()
			if !tc.parked {
				if len(parked) != 0 {
					t.Errorf("parked %+v, want nothing", parked)
				}
				if n := len(logs.find(t, "message dead-lettered")); n != 0 {
					t.Errorf("logged %d dead-letterings, want none", n)
				}
				return
			}
			if len(parked) != 1 {
				t.Fatalf("parked %+v, want one message", parked)
			}
			p := parked[0]
			if p.id != "m-9" || p.body != `{"detail":{}}` || p.reason != tc.handler.Error() {
				t.Errorf("parked %+v, want the message with reason %q", p, tc.handler.Error())
			}
			lines := logs.find(t, "message dead-lettered")
			if len(lines) != 1 || lines[0]["message_id"] != "m-9" || lines[0]["reason"] != tc.handler.Error() || lines[0]["level"] != "WARN" {
				t.Errorf("dead-lettering logged as %v", lines)
			}
		})
	}
}
