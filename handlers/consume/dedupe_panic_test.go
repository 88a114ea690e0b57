package consume_test

import (
	"context"
	"testing"
	"time"

	"ecrscanner/events"
	"ecrscanner/handlers/consume"
)

// A handler that panics must not leave its marker in progress: the
// redelivery would meet ErrBusy until the lease ran out.
func TestDedupeDropsTheMarkerWhenTheHandlerPanics(t *testing.T) {
	store := newMarkers(t, nil)
	ev := scanEvent(t, "evt-panic")
	h := consume.Dedupe(store, consume.DedupeConfig{Handler: "archive", Lease: time.Minute, Retention: time.Hour}, newLogSink().logger)(
		func(context.Context, events.ScanEvent) error { panic("boom") })
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed; Recover further out must see it")
			}
		}()
		_ = h(context.Background(), ev)
	}()
	if m := store.Marker(consume.IdempotencyKey("archive", ev)); m != "" {
		t.Errorf("marker after a panic = %q, want none", m)
	}
}
