package replay

import (
	"ecrscanner/infra/clock"

	"context"
	"fmt"
	"time"
)

// Limiter paces a replay at a steady number of events per second, so a large
// replay neither trips the bus's or the queues' throttling nor floods the
// handlers. Not safe for concurrent use.
type Limiter struct {
	interval time.Duration
	next     time.Time
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
}

// NewLimiter returns a limiter of perSecond events per second.
func NewLimiter(perSecond float64) (*Limiter, error) {
	if perSecond <= 0 {
		return nil, fmt.Errorf("rate %v must be positive", perSecond)
	}
	return &Limiter{interval: time.Duration(float64(time.Second) / perSecond), now: time.Now, sleep: clock.Sleep}, nil
}

// Wait blocks until n more events may go. The first call passes at once; each
// later one waits until the events before it have had their share of time.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	now := l.now()
	if l.next.Before(now) {
		l.next = now
	}
	wait := l.next.Sub(now)
	l.next = l.next.Add(time.Duration(n) * l.interval)
	if wait <= 0 {
		return ctx.Err()
	}
	return l.sleep(ctx, wait)
}
