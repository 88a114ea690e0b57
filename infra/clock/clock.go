// Package clock holds the one way this project waits: for a duration, or
// until the context ends, whichever comes first.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx ends; it then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
