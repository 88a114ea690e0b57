package replay

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitForArchive(t *testing.T) {
	t.Run("a window that ended long ago starts at once", func(t *testing.T) {
		p := ArchiveReplay{Until: time.Now().Add(-ArchiveDelay - time.Minute)}
		waits := 0
		if err := p.WaitForArchive(context.Background(), ArchiveDelay, time.Minute, func(time.Duration) { waits++ }); err != nil || waits != 0 {
			t.Fatalf("err %v after %d waits; want none", err, waits)
		}
	})
	t.Run("a window ending now waits the delay out", func(t *testing.T) {
		p := ArchiveReplay{Until: time.Now()}
		delay := 150 * time.Millisecond
		var lefts []time.Duration
		if err := p.WaitForArchive(context.Background(), delay, 40*time.Millisecond, func(left time.Duration) { lefts = append(lefts, left) }); err != nil {
			t.Fatal(err)
		}
		if now := time.Now(); now.Before(p.ReadyAt(delay)) {
			t.Errorf("returned %v before the archive was ready", p.ReadyAt(delay).Sub(now))
		}
		if len(lefts) < 2 || lefts[0] > delay || lefts[len(lefts)-1] >= lefts[0] {
			t.Errorf("told %v; want the time left, shrinking, at the start and each tick", lefts)
		}
	})
	t.Run("an interrupted wait starts nothing", func(t *testing.T) {
		p := ArchiveReplay{Until: time.Now()}
		ctx, cancel := context.WithCancel(context.Background())
		err := p.WaitForArchive(ctx, ArchiveDelay, time.Minute, func(time.Duration) { cancel() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}
