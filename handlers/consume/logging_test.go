package consume_test

import (
	"context"
	"errors"
	"testing"

	"ecrscanner/handlers/consume"
)

func TestLog(t *testing.T) {
	retryable := errors.New("SNS throttled")
	permanent := consume.Permanent(errors.New("report missing"))
	tests := []struct {
		name      string
		err       error
		msg       string
		level     string
		permanent any // nil: no such key
	}{
		{name: "success", msg: "message done", level: "INFO"},
		{name: "retryable failure", err: retryable, msg: "message failed", level: "ERROR", permanent: false},
		{name: "permanent failure", err: permanent, msg: "message failed", level: "ERROR", permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogSink()
			h := consume.Log(logs.logger)(func(context.Context, consume.Message) error { return tc.err })
			err := h(context.Background(), consume.Message{ID: "m-42", Body: "{}", ReceiveCount: 3})
			if err != tc.err {
				t.Errorf("error %v, want the handler's %v unchanged", err, tc.err)
			}
			lines := logs.lines(t)
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1: %v", len(lines), lines)
			}
			l := lines[0]
			if l["msg"] != tc.msg || l["level"] != tc.level {
				t.Errorf("logged %q at %v, want %q at %s", l["msg"], l["level"], tc.msg, tc.level)
			}
			if l["message_id"] != "m-42" {
				t.Errorf("message_id %v", l["message_id"])
			}
			if l["receive_count"] != float64(3) {
				t.Errorf("receive_count %v, want 3", l["receive_count"])
			}
			if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms %v, want a non-negative number", l["duration_ms"])
			}
			if tc.err == nil {
				for _, k := range []string{"error", "permanent"} {
					if _, ok := l[k]; ok {
						t.Errorf("success logged with %s=%v", k, l[k])
					}
				}
				return
			}
			if l["error"] != tc.err.Error() {
				t.Errorf("error %v, want %q", l["error"], tc.err.Error())
			}
			if l["permanent"] != tc.permanent {
				t.Errorf("permanent %v, want %v", l["permanent"], tc.permanent)
			}
		})
	}
}
