package consume_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/testkit"
)

var dedupeConfig = consume.DedupeConfig{Handler: "archive", Lease: 5 * time.Minute, Retention: 8 * 24 * time.Hour}

func TestIdempotencyKey(t *testing.T) {
	tests := []struct {
		name     string
		handler  string
		eventID  string
		replayID string
		want     string
	}{
		{name: "live event", handler: "archive", eventID: "e1", want: "archive#e1"},
		{name: "another handler", handler: "alert", eventID: "e1", want: "alert#e1"},
		{name: "replay", handler: "archive", eventID: "e1", replayID: "ops-0604", want: "archive#e1#replay#ops-0604"},
		{name: "archive replay", handler: "archive", eventID: "e1", replayID: "archive:fix", want: "archive#e1#replay#archive:fix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := events.ScanEvent{EventID: tc.eventID, ReplayID: tc.replayID}
			if got := consume.IdempotencyKey(tc.handler, ev); got != tc.want {
				t.Errorf("key %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDedupe(t *testing.T) {
	live := "archive#evt-1"
	replay := "archive#evt-1#replay#ops-0604"
	handlerErr := errors.New("S3 unavailable")
	storeErr := errors.New("DynamoDB throttled")
	tests := []struct {
		name       string
		markers    map[string]string // before
		replayID   string
		handlerErr error
		store      func(*testkit.MemoryIdempotencyStore)
		ran        bool
		wantIs     error // nil: no error
		permanent  bool
		key        string
		after      string // the key's marker afterwards
		calls      []string
		warning    string
	}{
		{
			name: "first delivery runs and finishes", ran: true,
			key: live, after: testkit.MarkerDone, calls: []string{"start " + live, "finish " + live},
		},
		{
			name: "duplicate is skipped", markers: map[string]string{live: testkit.MarkerDone},
			key: live, after: testkit.MarkerDone, calls: []string{"start " + live},
		},
		{
			name: "in progress elsewhere is retried later", markers: map[string]string{live: testkit.MarkerInProgress},
			wantIs: consume.ErrBusy, key: live, after: testkit.MarkerInProgress, calls: []string{"start " + live},
		},
		{
			// The failed Start's write may have landed (a timeout): the
			// marker is dropped so the retry need not wait for its lease.
			name: "store failure is retried", store: func(m *testkit.MemoryIdempotencyStore) { m.FailStart(storeErr) },
			wantIs: storeErr, key: live, calls: []string{"start " + live, "abandon " + live},
		},
		{
			name: "handler failure drops the marker", handlerErr: handlerErr, ran: true,
			wantIs: handlerErr, key: live, calls: []string{"start " + live, "abandon " + live},
		},
		{
			name: "permanent handler failure stays permanent", handlerErr: consume.Permanent(handlerErr), ran: true,
			wantIs: handlerErr, permanent: true, key: live, calls: []string{"start " + live, "abandon " + live},
		},
		{
			name: "marker not dropped: the handler's error stands", handlerErr: handlerErr, ran: true,
			store:  func(m *testkit.MemoryIdempotencyStore) { m.FailAbandon(storeErr) },
			wantIs: handlerErr, key: live, after: testkit.MarkerInProgress, calls: []string{"start " + live, "abandon " + live},
			warning: "idempotency marker not dropped; the retry waits for it to expire",
		},
		{
			name: "finish failure after success is not an error", ran: true,
			store: func(m *testkit.MemoryIdempotencyStore) { m.FailFinish(storeErr) },
			key:   live, after: testkit.MarkerInProgress, calls: []string{"start " + live, "finish " + live},
			warning: "idempotency marker not finished",
		},
		{
			name: "replay of a finished event is redone", markers: map[string]string{live: testkit.MarkerDone}, replayID: "ops-0604", ran: true,
			key: replay, after: testkit.MarkerDone, calls: []string{"start " + replay, "finish " + replay},
		},
		{
			name: "redelivered replay is skipped", markers: map[string]string{live: testkit.MarkerDone, replay: testkit.MarkerDone}, replayID: "ops-0604",
			key: replay, after: testkit.MarkerDone, calls: []string{"start " + replay},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newMarkers(t, tc.markers)
			if tc.store != nil {
				tc.store(store)
			}
			logs := newLogSink()
			ran := false
			h := consume.Dedupe(store, dedupeConfig, logs.logger)(func(context.Context, events.ScanEvent) error {
				ran = true
				return tc.handlerErr
			})
			ev := scanEvent(t, "evt-1")
			ev.ReplayID = tc.replayID
			err := h(context.Background(), ev)

			if ran != tc.ran {
				t.Errorf("handler ran %v, want %v", ran, tc.ran)
			}
			if tc.wantIs == nil && err != nil {
				t.Errorf("error %v, want none", err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v, want one wrapping %v", err, tc.wantIs)
			}
			if consume.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent %v, want %v (error %v)", consume.IsPermanent(err), tc.permanent, err)
			}
			if got := store.Marker(tc.key); got != tc.after {
				t.Errorf("marker of %s is %q, want %q", tc.key, got, tc.after)
			}
			if got := strings.Join(store.Calls(), "; "); got != strings.Join(tc.calls, "; ") {
				t.Errorf("store calls %q, want %q", got, strings.Join(tc.calls, "; "))
			}
			for _, l := range store.Leases() {
				if l != dedupeConfig.Lease {
					t.Errorf("lease %v, want the configured %v", l, dedupeConfig.Lease)
				}
			}
			for _, r := range store.Retentions() {
				if r != dedupeConfig.Retention {
					t.Errorf("retention %v, want the configured %v", r, dedupeConfig.Retention)
				}
			}
			if tc.warning != "" {
				lines := logs.find(t, tc.warning)
				if len(lines) != 1 || lines[0]["event_id"] != "evt-1" || lines[0]["error"] != storeErr.Error() {
					t.Errorf("warning %q logged as %v", tc.warning, lines)
				}
			}
		})
	}
}

// What the idempotency key is for: across deliveries of one event the work
// happens once, a failed attempt does not block its retry, and a replay
// redoes it once.
func TestDedupeAcrossDeliveries(t *testing.T) {
	store := newMarkers(t, nil)
	logs := newLogSink()
	runs := 0
	fail := true
	h := consume.Dedupe(store, dedupeConfig, logs.logger)(func(context.Context, events.ScanEvent) error {
		runs++
		if fail {
			fail = false
			return errors.New("S3 unavailable")
		}
		return nil
	})
	ev := scanEvent(t, "evt-1")
	replayed := ev
	replayed.ReplayID = "archive:fix-tags"
	other := consume.Dedupe(store, consume.DedupeConfig{Handler: "alert", Lease: time.Minute, Retention: time.Hour}, logs.logger)(func(context.Context, events.ScanEvent) error {
		runs += 100
		return nil
	})

	steps := []struct {
		name    string
		h       consume.EventHandler
		ev      events.ScanEvent
		fails   bool
		runsNow int
	}{
		{name: "first attempt fails", h: h, ev: ev, fails: true, runsNow: 1},
		{name: "its retry runs at once", h: h, ev: ev, runsNow: 2},
		{name: "a redelivery is dropped", h: h, ev: ev, runsNow: 2},
		{name: "another handler still runs", h: other, ev: ev, runsNow: 102},
		{name: "a replay redoes the work", h: h, ev: replayed, runsNow: 103},
		{name: "a redelivered replay is dropped", h: h, ev: replayed, runsNow: 103},
	}
	for _, s := range steps {
		err := s.h(context.Background(), s.ev)
		if (err != nil) != s.fails {
			t.Fatalf("%s: error %v", s.name, err)
		}
		if runs != s.runsNow {
			t.Fatalf("%s: run count %d, want %d", s.name, runs, s.runsNow)
		}
	}
	if n := len(logs.find(t, "duplicate event skipped")); n != 2 {
		t.Errorf("logged %d skipped duplicates, want 2", n)
	}
}

// TestDedupeRecordsTheOutcomeAfterTheDeadline: work that ends as the
// invocation's deadline passes still has its marker finished (or dropped),
// so a redelivery neither repeats the effect nor waits out the lease.
func TestDedupeRecordsTheOutcomeAfterTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		marker string
	}{
		{name: "done at the deadline", marker: testkit.MarkerDone},
		{name: "failed at the deadline", err: errors.New("throttled until the deadline"), marker: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := testkit.NewMemoryIdempotencyStore(nil) // fails a call under an ended context, as a real store does
			mw := consume.Dedupe(store, consume.DedupeConfig{Handler: "archive", Lease: time.Minute, Retention: time.Hour}, slog.New(slog.DiscardHandler))
			ev := events.ScanEvent{EventID: "evt-deadline"}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_ = mw(func(ctx context.Context, _ events.ScanEvent) error {
				<-ctx.Done()
				return tc.err
			})(ctx, ev)
			if got := store.Marker("archive#evt-deadline"); got != tc.marker {
				t.Errorf("marker %q, want %q", got, tc.marker)
			}
		})
	}
}
