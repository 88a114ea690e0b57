package consume_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/testkit"
)

// parkedMessage is one call to DeadLetters.Park.
type parkedMessage struct{ id, body, reason string }

// fakeDeadLetters records what is parked; err makes every Park fail.
type fakeDeadLetters struct {
	mu     sync.Mutex
	err    error
	parked []parkedMessage
}

var _ consume.DeadLetters = (*fakeDeadLetters)(nil)

func (f *fakeDeadLetters) Park(_ context.Context, id, body, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.parked = append(f.parked, parkedMessage{id: id, body: body, reason: reason})
	return nil
}

func (f *fakeDeadLetters) messages() []parkedMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]parkedMessage(nil), f.parked...)
}

// newMarkers returns an idempotency store that holds markers (key →
// testkit.MarkerDone or testkit.MarkerInProgress), written through another
// handle so that the store's own call log starts empty.
func newMarkers(t *testing.T, markers map[string]string) *testkit.MemoryIdempotencyStore {
	t.Helper()
	store := testkit.NewMemoryIdempotencyStore(nil)
	other := store.Peer()
	for key, state := range markers {
		var err error
		switch state {
		case testkit.MarkerDone:
			err = other.Finish(context.Background(), key, time.Hour)
		case testkit.MarkerInProgress:
			err = other.Start(context.Background(), key, time.Hour)
		default:
			t.Fatalf("marker %s: unknown state %q", key, state)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// logSink is a JSON slog logger writing to a buffer the test reads back.
type logSink struct {
	buf    bytes.Buffer
	mu     sync.Mutex
	logger *slog.Logger
}

func newLogSink() *logSink {
	s := &logSink{}
	s.logger = slog.New(slog.NewJSONHandler(lockedWriter{s}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return s
}

type lockedWriter struct{ s *logSink }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.buf.Write(p)
}

// lines returns every record logged so far, decoded.
func (s *logSink) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// find returns the records whose msg is msg.
func (s *logSink) find(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range s.lines(t) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	testDigest  = "sha256:0d5f1f2a7c3e4b6a8d9c0b1a2e3f4d5c6b7a8e9f0a1b2c3d4e5f6a7b8c9d0e1f"
)

// scanEvent is a valid ScanCompleted event with ID id.
func scanEvent(t *testing.T, id string) events.ScanEvent {
	t.Helper()
	ref, err := domain.NewImageRef(testAccount, testRegion, "team-a/payments-api", testDigest, "v1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 6, 3, 8, 18, 12, 0, time.UTC)
	return events.ScanEvent{
		SchemaVersion: events.SchemaVersion,
		EventID:       id,
		EventType:     domain.EventScanCompleted,
		Time:          at,
		ScanID:        "scan-" + id,
		Digest:        ref.Digest,
		Ref:           ref,
		References:    []domain.ImageRef{ref},
		Status:        domain.StatusCompleted,
		Summary:       &domain.Summary{Vulnerabilities: domain.Counts{High: 2}},
		Report:        &domain.ReportLocation{Bucket: "reports", Key: "reports/scan-" + id + ".json.gz"},
		ScannedAt:     at,
	}
}

// ruleBody is ev as a bus rule delivers it to the handler's queue.
func ruleBody(t *testing.T, ev events.ScanEvent) string {
	t.Helper()
	b, err := ev.RuleMessage("3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b", testAccount, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sqsEvent is a Lambda SQS event with one record per body, IDs m1, m2, ….
func sqsEvent(bodies ...string) awsevents.SQSEvent {
	var ev awsevents.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, awsevents.SQSMessage{
			MessageId:  fmt.Sprintf("m%d", i+1),
			Body:       b,
			Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	return ev
}

// failedIDs lists the message IDs a batch response asks SQS to redeliver.
func failedIDs(resp awsevents.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}
