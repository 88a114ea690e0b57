package testkit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ecrscanner/domain"
)

// IdempotencyBackend prepares fresh, empty storage for idempotency markers
// whose clock reads now, and returns a function that opens a handle on it.
// Each handle stands for another process: handles share the stored markers,
// not what a handle keeps in memory.
type IdempotencyBackend func(t *testing.T, now func() time.Time) (open func() domain.IdempotencyStore)

// TestIdempotencyStore is the behaviour every domain.IdempotencyStore must
// show: one Start wins, a live lease or a done marker blocks the next Start
// until it lapses, Abandon frees a key at once but never undoes a Finish nor
// drops a marker another delivery took over.
func TestIdempotencyStore(t *testing.T, backend IdempotencyBackend) {
	const (
		lease     = time.Minute
		retention = 24 * time.Hour
	)
	ctx := context.Background()

	t.Run("lifecycle", func(t *testing.T) { idempotencyLifecycle(t, backend, ctx, lease, retention) })
	t.Run("concurrent start", func(t *testing.T) { idempotencyConcurrentStart(t, backend, ctx, lease, retention) })
	t.Run("abandon only drops its own marker", func(t *testing.T) { idempotencyAbandonOnlyDropsItsOwnMarker(t, backend, ctx, lease, retention) })
}

// idempotencyLifecycle is the "lifecycle" case of TestIdempotencyStore.
func idempotencyLifecycle(t *testing.T, backend IdempotencyBackend, ctx context.Context, lease, retention time.Duration) {
	type step struct {
		do      string // start, finish, abandon, advance
		advance time.Duration
		want    error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "first start", steps: []step{{do: "start"}}},
		{name: "duplicate while in progress", steps: []step{
			{do: "start"}, {do: "start", want: domain.ErrInProgress},
		}},
		{name: "duplicate after finish", steps: []step{
			{do: "start"}, {do: "finish"}, {do: "start", want: domain.ErrAlreadyDone},
		}},
		{name: "expired lease is taken over", steps: []step{
			{do: "start"}, {do: "advance", advance: lease + time.Second}, {do: "start"},
			{do: "start", want: domain.ErrInProgress},
		}},
		{name: "lease still live just before expiry", steps: []step{
			{do: "start"}, {do: "advance", advance: lease - time.Second}, {do: "start", want: domain.ErrInProgress},
		}},
		{name: "done outlives leases", steps: []step{
			{do: "start"}, {do: "finish"}, {do: "advance", advance: lease * 10}, {do: "start", want: domain.ErrAlreadyDone},
		}},
		{name: "done expires after retention", steps: []step{
			{do: "start"}, {do: "finish"}, {do: "advance", advance: retention + time.Second}, {do: "start"},
		}},
		{name: "abandon lets a retry start at once", steps: []step{
			{do: "start"}, {do: "abandon"}, {do: "start"},
		}},
		{name: "abandon does not undo finish", steps: []step{
			{do: "start"}, {do: "finish"}, {do: "abandon"}, {do: "start", want: domain.ErrAlreadyDone},
		}},
		{name: "abandon of an unknown key", steps: []step{{do: "abandon"}, {do: "start"}}},
		{name: "finish without start", steps: []step{{do: "finish"}, {do: "start", want: domain.ErrAlreadyDone}}},
	}
	// One store and one clock for all cases, as in production: each
	// case has a key of its own, and moving the clock only ever lapses
	// markers of cases already done.
	clk := NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := backend(t, clk.Now)()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "handler#" + RandomDigest(t).Hex()
			for i, st := range tc.steps {
				var err error
				switch st.do {
				case "start":
					err = s.Start(ctx, key, lease)
				case "finish":
					err = s.Finish(ctx, key, retention)
				case "abandon":
					err = s.Abandon(ctx, key)
				case "advance":
					clk.Advance(st.advance)
				}
				if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
					t.Fatalf("step %d (%s) = %v, want %v", i, st.do, err, st.want)
				}
			}
		})
	}
}

// idempotencyConcurrentStart is the "concurrent start" case of TestIdempotencyStore.
func idempotencyConcurrentStart(t *testing.T, backend IdempotencyBackend, ctx context.Context, lease, retention time.Duration) {
	s := backend(t, NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)).Now)()
	const n = 20
	var started, inProgress atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			switch err := s.Start(ctx, "k", time.Minute); {
			case err == nil:
				started.Add(1)
			case errors.Is(err, domain.ErrInProgress):
				inProgress.Add(1)
			default:
				t.Errorf("Start = %v", err)
			}
		})
	}
	wg.Wait()
	if started.Load() != 1 || inProgress.Load() != n-1 {
		t.Errorf("%d started, %d in progress; want 1 and %d", started.Load(), inProgress.Load(), n-1)
	}
}

// A delivery whose lease ran out and was taken over must not, when it
// finally fails, drop the marker of the delivery that took over.
func idempotencyAbandonOnlyDropsItsOwnMarker(t *testing.T, backend IdempotencyBackend, ctx context.Context, lease, retention time.Duration) {
	clk := NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	open := backend(t, clk.Now)
	first, second := open(), open()
	if err := first.Start(ctx, "archive#e1", time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // the first delivery stalls past its lease
	if err := second.Start(ctx, "archive#e1", time.Minute); err != nil {
		t.Fatalf("takeover: %v", err)
	}
	if err := first.Abandon(ctx, "archive#e1"); err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx, "archive#e1", time.Minute); !errors.Is(err, domain.ErrInProgress) {
		t.Fatalf("after the stale Abandon: Start = %v; want the second delivery's marker still in progress", err)
	}
	if err := second.Abandon(ctx, "archive#e1"); err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx, "archive#e1", time.Minute); err != nil {
		t.Errorf("after the holder's own Abandon: Start = %v; want the key free", err)
	}
}
