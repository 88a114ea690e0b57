package consume_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
)

func TestEventsDecodes(t *testing.T) {
	ev := scanEvent(t, "evt-1")
	retryable := errors.New("S3 unavailable")
	invalid := ev
	invalid.Report = nil
	tests := []struct {
		name       string
		body       string
		handlerErr error
		called     bool
		permanent  bool
		invalid    bool // the error wraps domain.ErrInvalid
		wantIs     error
	}{
		{name: "valid event is decoded and passed", body: ruleBody(t, ev), called: true},
		{name: "handler error comes back unchanged", body: ruleBody(t, ev), handlerErr: retryable, called: true, wantIs: retryable},
		{name: "not JSON", body: "{not json", permanent: true, invalid: true},
		{name: "empty body", body: "", permanent: true, invalid: true},
		{name: "ECR push event on the wrong queue", body: `{"version":"0","source":"aws.ecr","detail-type":"ECR Image Action","detail":{}}`, permanent: true, invalid: true},
		{name: "event that fails validation", body: mustRuleBodyUnchecked(t, invalid), permanent: true, invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *events.ScanEvent
			h := consume.Events(func(_ context.Context, e events.ScanEvent) error {
				got = &e
				return tc.handlerErr
			})
			err := h(context.Background(), consume.Message{ID: "m1", Body: tc.body})
			if (got != nil) != tc.called {
				t.Fatalf("handler called %v, want %v (error %v)", got != nil, tc.called, err)
			}
			if consume.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent %v, want %v (error %v)", consume.IsPermanent(err), tc.permanent, err)
			}
			if errors.Is(err, domain.ErrInvalid) != tc.invalid {
				t.Errorf("error %v: wraps ErrInvalid %v, want %v", err, errors.Is(err, domain.ErrInvalid), tc.invalid)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v, want %v", err, tc.wantIs)
			}
			if !tc.permanent && tc.wantIs == nil && err != nil {
				t.Errorf("error %v, want none", err)
			}
			if got != nil {
				a, _ := json.Marshal(got)
				b, _ := json.Marshal(ev)
				if string(a) != string(b) {
					t.Errorf("handler got\n%s\nwant\n%s", a, b)
				}
			}
		})
	}
}

// mustRuleBodyUnchecked renders ev as a rule delivery without the checks
// RuleMessage makes, so that an invalid event can be delivered.
func mustRuleBodyUnchecked(t *testing.T, ev events.ScanEvent) string {
	t.Helper()
	detail, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{
		"version": "0", "id": "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b", "detail-type": events.DetailType, "source": events.Source,
		"account": testAccount, "time": "2024-06-03T08:18:12Z", "region": testRegion, "resources": []string{},
		"detail": json.RawMessage(detail),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEventsAppliesMiddlewareInOrder(t *testing.T) {
	var trace []string
	mw := func(name string) consume.EventMiddleware {
		return func(next consume.EventHandler) consume.EventHandler {
			return func(ctx context.Context, ev events.ScanEvent) error {
				trace = append(trace, name+">"+ev.EventID)
				err := next(ctx, ev)
				trace = append(trace, "<"+name)
				return err
			}
		}
	}
	h := consume.Events(func(_ context.Context, ev events.ScanEvent) error {
		trace = append(trace, "handler")
		return nil
	}, mw("a"), mw("b"))

	if err := h(context.Background(), consume.Message{ID: "m1", Body: ruleBody(t, scanEvent(t, "evt-1"))}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(trace, " "); got != "a>evt-1 b>evt-1 handler <b <a" {
		t.Errorf("order %q, want the first middleware outermost", got)
	}

	// A message that does not decode reaches no middleware.
	trace = nil
	if err := h(context.Background(), consume.Message{ID: "m2", Body: "garbage"}); !consume.IsPermanent(err) {
		t.Errorf("error %v, want a permanent one", err)
	}
	if len(trace) != 0 {
		t.Errorf("undecodable message reached %q", trace)
	}
}

func TestLogEvent(t *testing.T) {
	ev := scanEvent(t, "evt-7")
	ev.ReplayID = "archive:fix-tags"
	fail := errors.New("tagging failed")
	tests := []struct {
		name string
		err  error
	}{
		{name: "success", err: nil},
		{name: "failure passes through", err: fail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogSink()
			called := false
			h := consume.LogEvent(logs.logger, "tag")(func(_ context.Context, got events.ScanEvent) error {
				called = got.EventID == ev.EventID
				return tc.err
			})
			if err := h(context.Background(), ev); err != tc.err {
				t.Errorf("error %v, want %v", err, tc.err)
			}
			if !called {
				t.Error("next handler not called with the event")
			}
			lines := logs.find(t, "scan event received")
			if len(lines) != 1 {
				t.Fatalf("logged %v, want one arrival line", logs.lines(t))
			}
			want := map[string]string{
				"handler":      "tag",
				"event_id":     "evt-7",
				"event_type":   "ScanCompleted",
				"image_digest": testDigest,
				"scan_id":      "scan-evt-7",
				"replay_id":    "archive:fix-tags",
			}
			for k, v := range want {
				if lines[0][k] != v {
					t.Errorf("%s = %v, want %q", k, lines[0][k], v)
				}
			}
		})
	}
}
