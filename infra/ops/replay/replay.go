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
	if err := r.check(cp); err != nil {
		return cp, err
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	if cp.Started.IsZero() {
		if err := r.begin(ctx, &cp, now()); err != nil {
			return cp, err
		}
	}
	run := &runProgress{r: r, cp: &cp, now: now, start: now()}
	for !cp.Done {
		if err := ctx.Err(); err != nil {
			return cp, err
		}
		if err := r.replayPage(ctx, &cp, run); err != nil {
			return cp, err
		}
	}
	return cp, nil
}

// check refuses a run that cannot start.
func (r *Runner) check(cp Checkpoint) error {
	if cp.ReplayID == "" {
		return errors.New("replay: no replay ID")
	}
	if err := cp.Selection.Validate(); err != nil {
		return err
	}
	if r.Source == nil || r.Sink == nil {
		return errors.New("replay: no source or sink")
	}
	return nil
}

// begin starts a new replay: counts the records and saves the checkpoint
// before the first page, so that even an interruption during it leaves the
// replay ID to resume under.
func (r *Runner) begin(ctx context.Context, cp *Checkpoint, at time.Time) error {
	total, err := r.Source.Count(ctx)
	if err != nil {
		return err
	}
	cp.Started, cp.Total = at, total
	return r.save(*cp)
}

func (r *Runner) save(cp Checkpoint) error {
	if r.Save == nil {
		return nil
	}
	return r.Save(cp)
}

// replayPage sends the selected records of the page at cp.Position and
// moves the checkpoint past it, saved.
func (r *Runner) replayPage(ctx context.Context, cp *Checkpoint, run *runProgress) error {
	page, err := r.Source.Page(ctx, cp.Position)
	if err != nil {
		return err
	}
	evs, skipped := r.pick(page.Records, *cp)
	sent, err := r.send(ctx, evs, skipped, run)
	if err != nil {
		return err
	}
	cp.Sent += sent
	cp.Skipped += skipped + len(evs) - sent
	cp.Missing = append(cp.Missing, page.Missing...)
	cp.Position, cp.Done, cp.Updated = page.Next, page.Last, run.now()
	if err := r.save(*cp); err != nil {
		return err
	}
	run.report(cp.Sent, cp.Skipped, true)
	return nil
}

// pick turns the records the selection matches into events, counting
// those it skips: not matched, or with no outcome to replay.
func (r *Runner) pick(records []domain.ScanRecord, cp Checkpoint) (evs []events.ScanEvent, skipped int) {
	for _, rec := range records {
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
	return evs, skipped
}

// send puts the events into the sink a chunk at a time, paced by the
// limiter, and returns how many it took.
func (r *Runner) send(ctx context.Context, evs []events.ScanEvent, skipped int, run *runProgress) (int, error) {
	sent := 0
	for i := 0; i < len(evs); i += chunk {
		batch := evs[i:min(i+chunk, len(evs))]
		if r.Limiter != nil {
			if err := r.Limiter.Wait(ctx, len(batch)); err != nil {
				return sent, err
			}
		}
		n, err := r.Sink.Send(ctx, batch)
		sent += n
		run.sentHere += n
		if err != nil {
			return sent, err
		}
		run.report(run.cp.Sent+sent, run.cp.Skipped+skipped+(i+len(batch)-sent), false)
	}
	return sent, nil
}

// runProgress tells Runner.Progress how this run is going; the rate counts
// from this run's own start.
type runProgress struct {
	r        *Runner
	cp       *Checkpoint
	now      func() time.Time
	start    time.Time
	sentHere int
}

func (p *runProgress) report(sent, skipped int, pageDone bool) {
	if p.r.Progress == nil {
		return
	}
	rate := 0.0
	if d := p.now().Sub(p.start).Seconds(); d > 0 {
		rate = float64(p.sentHere) / d
	}
	p.r.Progress(Progress{Sent: sent, Skipped: skipped, Missing: len(p.cp.Missing), Total: p.cp.Total, Rate: rate, PageDone: pageDone})
}
