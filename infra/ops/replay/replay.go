// Package replay re-emits scan outcomes to the downstream handlers: from the
// scans table (the source of truth, any age), onto the image-scans bus or
// straight into chosen handlers' queues, paced, checkpointed and resumable;
// or from the bus archive through EventBridge's own replay. Every replay
// carries a replay ID, which handlers make part of their idempotency key, so
// a replay redoes the work that a plain redelivery would skip.
//
// It also reads what the status command shows: a record, and the handlers'
// idempotency markers for its events.
package replay

import (
	"context"
	"errors"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// chunk is how many events go to the sink at once: one PutEvents call.
const chunk = maxPutEntries

// Runner re-emits the records a Source reads into a Sink.
type Runner struct {
	Source Source
	Sink   Sink
	// Limiter paces the events; nil sends as fast as the sink takes them.
	Limiter *Limiter
	// Save stores the checkpoint after each page is fully sent; nil keeps
	// none (a dry run).
	Save func(Checkpoint) error
	// Progress, if set, is told after each batch of events and each page.
	Progress func(Progress)
	// Skip, if set, is told of each selected record that has no outcome to
	// replay (a scan running or waiting for a retry).
	Skip func(r domain.ScanRecord, reason error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Progress is a running replay's counts.
type Progress struct {
	Sent, Skipped, Missing, Total int
	// Rate is events sent per second by this run (a resumed run counts
	// from its own start).
	Rate float64
	// PageDone says a page was fully sent and its checkpoint saved.
	PageDone bool
}

// Run replays from cp.Position until the source is exhausted and returns the
// final checkpoint. When ctx ends or sending fails it returns the last saved
// checkpoint with the error; running it again resumes there.
func (r *Runner) Run(ctx context.Context, cp Checkpoint) (Checkpoint, error) {
	if cp.ReplayID == "" {
		return cp, errors.New("replay: no replay ID")
	}
	if err := cp.Selection.Validate(); err != nil {
		return cp, err
	}
	if r.Source == nil || r.Sink == nil {
		return cp, errors.New("replay: no source or sink")
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	if cp.Started.IsZero() {
		total, err := r.Source.Count(ctx)
		if err != nil {
			return cp, err
		}
		cp.Started, cp.Total = now(), total
		// Saved before the first page, so that even an interruption
		// during it leaves the replay ID to resume under.
		if r.Save != nil {
			if err := r.Save(cp); err != nil {
				return cp, err
			}
		}
	}
	start, sentHere := now(), 0
	report := func(sent, skipped int, pageDone bool) {
		if r.Progress == nil {
			return
		}
		rate := 0.0
		if d := now().Sub(start).Seconds(); d > 0 {
			rate = float64(sentHere) / d
		}
		r.Progress(Progress{Sent: sent, Skipped: skipped, Missing: len(cp.Missing), Total: cp.Total, Rate: rate, PageDone: pageDone})
	}
	for !cp.Done {
		if err := ctx.Err(); err != nil {
			return cp, err
		}
		page, err := r.Source.Page(ctx, cp.Position)
		if err != nil {
			return cp, err
		}
		var evs []events.ScanEvent
		skipped := 0
		for _, rec := range page.Records {
			if !cp.Selection.Match(rec) {
				skipped++
				continue
			}
			ev, err := cp.Selection.Event(rec, cp.ReplayID)
			if err != nil {
				skipped++
				if r.Skip != nil {
					r.Skip(rec, err)
				}
				continue
			}
			evs = append(evs, ev)
		}
		sent := 0
		for i := 0; i < len(evs); i += chunk {
			batch := evs[i:min(i+chunk, len(evs))]
			if r.Limiter != nil {
				if err := r.Limiter.Wait(ctx, len(batch)); err != nil {
					return cp, err
				}
			}
			n, err := r.Sink.Send(ctx, batch)
			sent += n
			sentHere += n
			if err != nil {
				return cp, err
			}
			report(cp.Sent+sent, cp.Skipped+skipped+(i+len(batch)-sent), false)
		}
		cp.Sent += sent
		cp.Skipped += skipped + len(evs) - sent
		cp.Missing = append(cp.Missing, page.Missing...)
		cp.Position, cp.Done, cp.Updated = page.Next, page.Last, now()
		if r.Save != nil {
			if err := r.Save(cp); err != nil {
				return cp, err
			}
		}
		report(cp.Sent, cp.Skipped, true)
	}
	return cp, nil
}
