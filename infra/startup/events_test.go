package startup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/attr"
)

// Every line an Events function logs names the function once: the arrival
// line (LogEvent names it itself), the handler's own, deduplication's and
// the outcome's.
func TestEventChainNamesTheHandlerOnce(t *testing.T) {
	var buf bytes.Buffer
	plain := slog.New(slog.NewJSONHandler(&buf, nil))
	logger := plain.With(slog.String(attr.Handler, "archive"))
	fail := errors.New("S3 unavailable")
	c := consumerFunc(func(ctx context.Context, ev events.ScanEvent) error {
		logger.InfoContext(ctx, "scan result archived")
		if ev.EventID == "evt-fail" {
			return fail
		}
		return nil
	})
	h := eventChain(c, &doneOnce{done: map[string]bool{}}, consume.DedupeConfig{Handler: "archive", Lease: time.Minute, Retention: time.Hour}, plain, logger, nil)

	ctx := context.Background()
	ok := busMessage(t, "evt-1")
	for _, m := range []consume.Message{ok, ok, busMessage(t, "evt-fail")} {
		_ = h(ctx, m) // outcomes are the middleware's own tests' business
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	seen := map[string]bool{}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		seen[msg] = true
		if n := strings.Count(line, `"`+attr.Handler+`":`); n != 1 {
			t.Errorf("%q names the handler %d times: %s", msg, n, line)
		}
	}
	for _, want := range []string{"scan event received", "scan result archived", "duplicate event skipped", "message done", "message failed"} {
		if !seen[want] {
			t.Errorf("no %q line in %s", want, buf.String())
		}
	}
}

type consumerFunc func(ctx context.Context, ev events.ScanEvent) error

func (f consumerFunc) Handle(ctx context.Context, ev events.ScanEvent) error { return f(ctx, ev) }

// doneOnce is an idempotency store that remembers finished keys.
type doneOnce struct{ done map[string]bool }

func (s *doneOnce) Start(_ context.Context, key string, _ time.Duration) error {
	if s.done[key] {
		return domain.ErrAlreadyDone
	}
	return nil
}

func (s *doneOnce) Finish(_ context.Context, key string, _ time.Duration) error {
	s.done[key] = true
	return nil
}

func (s *doneOnce) Abandon(context.Context, string) error { return nil }

// busMessage is the sample ScanCompleted event, with ID id, as a bus rule
// delivers it.
func busMessage(t *testing.T, id string) consume.Message {
	t.Helper()
	b, err := os.ReadFile("../../testdata/bus/scan-completed.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.ScanEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	ev.EventID = id
	body, err := ev.RuleMessage("3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b", ev.Ref.Account, ev.Ref.Region)
	if err != nil {
		t.Fatal(err)
	}
	return consume.Message{ID: "m-" + id, Body: string(body), ReceiveCount: 1}
}
