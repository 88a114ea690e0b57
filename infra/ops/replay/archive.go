package replay

import (
	"ecrscanner/infra/clock"

	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// ArchiveAPI is the part of the EventBridge API an archive replay uses.
type ArchiveAPI interface {
	ListArchives(ctx context.Context, in *eventbridge.ListArchivesInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListArchivesOutput, error)
	StartReplay(ctx context.Context, in *eventbridge.StartReplayInput, optFns ...func(*eventbridge.Options)) (*eventbridge.StartReplayOutput, error)
	DescribeReplay(ctx context.Context, in *eventbridge.DescribeReplayInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeReplayOutput, error)
	CancelReplay(ctx context.Context, in *eventbridge.CancelReplayInput, optFns ...func(*eventbridge.Options)) (*eventbridge.CancelReplayOutput, error)
}

// ArchiveReplay is a replay of the bus archive by EventBridge: the events
// archived in a time window, put back on the bus for the chosen handlers'
// rules only. EventBridge marks each replayed event with the replay's name,
// which handlers turn into the replay ID "archive:<name>".
type ArchiveReplay struct {
	Name       string
	ArchiveARN string
	BusARN     string
	// FilterARNs are the rules the replayed events are offered to.
	FilterARNs []string
	Handlers   []string
	// Since and Until bound the events' time.
	Since, Until time.Time
}

// replayNameRE is EventBridge's rule for replay names.
var replayNameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

// ArchiveReplayName is the EventBridge replay name for a replay ID.
func ArchiveReplayName(replayID string) (string, error) {
	name := "ecrscan-" + replayID
	if !replayNameRE.MatchString(name) {
		return "", fmt.Errorf("replay ID %q does not make an EventBridge replay name (at most 56 of A-Z a-z 0-9 . - _)", replayID)
	}
	return name, nil
}

// PlanArchiveReplay prepares the archive replay replayID of the window
// [since, until) for handlers (at least one), finding the bus's archive when
// the stack does not name it.
func PlanArchiveReplay(ctx context.Context, client ArchiveAPI, st Stack, replayID string, handlers []Handler, since, until time.Time) (ArchiveReplay, error) {
	name, err := ArchiveReplayName(replayID)
	if err != nil {
		return ArchiveReplay{}, err
	}
	if since.IsZero() || until.IsZero() || !since.Before(until) {
		return ArchiveReplay{}, fmt.Errorf("archive replay: want a window with since before until, got %v to %v", since, until)
	}
	if len(handlers) == 0 {
		return ArchiveReplay{}, errors.New("archive replay: no handlers")
	}
	archive := st.Archive
	if archive == "" {
		if archive, err = findArchive(ctx, client, st.BusARN()); err != nil {
			return ArchiveReplay{}, err
		}
	}
	p := ArchiveReplay{Name: name, ArchiveARN: st.ArchiveARN(archive), BusARN: st.BusARN(), Since: since, Until: until}
	for _, h := range handlers {
		p.FilterARNs = append(p.FilterARNs, st.RuleARN(h))
		p.Handlers = append(p.Handlers, h.Name)
	}
	return p, nil
}

// findArchive finds the one archive of the bus.
func findArchive(ctx context.Context, client ArchiveAPI, busARN string) (string, error) {
	var names []string
	var next *string
	for {
		out, err := client.ListArchives(ctx, &eventbridge.ListArchivesInput{EventSourceArn: aws.String(busARN), NextToken: next})
		if err != nil {
			return "", fmt.Errorf("list archives of %s: %w", busARN, err)
		}
		for _, a := range out.Archives {
			names = append(names, aws.ToString(a.ArchiveName))
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	if len(names) != 1 {
		return "", fmt.Errorf("bus %s has %d archives %v, want exactly one", busARN, len(names), names)
	}
	return names[0], nil
}

// ArchiveDelay is how long after an event's time the archive is taken to
// hold it. Events reach an archive some time after the bus, and EventBridge
// recommends delaying a replay by 10 minutes so that every event is there
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html#eb-archive-timing).
const ArchiveDelay = 10 * time.Minute

// ReadyAt is when the archive holds every event of the window: Until plus
// delay.
func (p ArchiveReplay) ReadyAt(delay time.Duration) time.Time { return p.Until.Add(delay) }

// WaitForArchive blocks until the archive has caught up with the window
// (ReadyAt(delay)), telling wait the time left at the start and then every
// tick. It returns at once for a window that ended long enough ago, and
// ctx's error if ctx ends first. Starting sooner would replay a window whose
// last minutes may not be archived yet, and those events would be silently
// left out.
func (p ArchiveReplay) WaitForArchive(ctx context.Context, delay, tick time.Duration, wait func(left time.Duration)) error {
	ready := p.ReadyAt(delay)
	for {
		left := time.Until(ready)
		if left <= 0 {
			return nil
		}
		wait(left)
		t := time.NewTimer(min(left, tick))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for the archive to catch up: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Start asks EventBridge to run the replay.
func (p ArchiveReplay) Start(ctx context.Context, client ArchiveAPI) error {
	_, err := client.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName:     aws.String(p.Name),
		Description:    aws.String("ecrscan replay to " + fmt.Sprint(p.Handlers)),
		EventSourceArn: aws.String(p.ArchiveARN),
		EventStartTime: aws.Time(p.Since),
		EventEndTime:   aws.Time(p.Until),
		Destination:    &ebtypes.ReplayDestination{Arn: aws.String(p.BusARN), FilterArns: p.FilterARNs},
	})
	if err != nil {
		return fmt.Errorf("start replay %s: %w", p.Name, err)
	}
	return nil
}

// ArchiveProgress is where an archive replay stands.
type ArchiveProgress struct {
	State  ebtypes.ReplayState
	Reason string
	// LastReplayed is the time of the last event replayed so far.
	LastReplayed time.Time
	// Fraction is how much of the window has been replayed, 0 to 1.
	Fraction float64
}

// Wait polls the replay every poll until it ends, telling progress of each
// state. It returns an error unless the replay completed. When ctx ends it
// cancels the replay.
func (p ArchiveReplay) Wait(ctx context.Context, client ArchiveAPI, poll time.Duration, progress func(ArchiveProgress)) (ArchiveProgress, error) {
	for {
		out, err := client.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String(p.Name)})
		if err != nil {
			if ctx.Err() != nil {
				return ArchiveProgress{}, p.cancel(ctx, client)
			}
			return ArchiveProgress{}, fmt.Errorf("describe replay %s: %w", p.Name, err)
		}
		st := ArchiveProgress{State: out.State, Reason: aws.ToString(out.StateReason), LastReplayed: aws.ToTime(out.EventLastReplayedTime)}
		switch {
		case st.State == ebtypes.ReplayStateCompleted:
			st.Fraction = 1
		case !st.LastReplayed.IsZero():
			st.Fraction = min(max(st.LastReplayed.Sub(p.Since).Seconds()/p.Until.Sub(p.Since).Seconds(), 0), 1)
		}
		if progress != nil {
			progress(st)
		}
		switch st.State {
		case ebtypes.ReplayStateCompleted:
			return st, nil
		case ebtypes.ReplayStateFailed, ebtypes.ReplayStateCancelled:
			return st, fmt.Errorf("replay %s %s: %s", p.Name, st.State, st.Reason)
		}
		if err := clock.Sleep(ctx, poll); err != nil {
			return st, p.cancel(ctx, client)
		}
	}
}

// cancel stops the replay after ctx ended, so an interrupted command does
// not leave it running unseen.
func (p ArchiveReplay) cancel(ctx context.Context, client ArchiveAPI) error {
	cctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stop()
	if _, err := client.CancelReplay(cctx, &eventbridge.CancelReplayInput{ReplayName: aws.String(p.Name)}); err != nil {
		return fmt.Errorf("replay %s interrupted (%w) and not cancelled: %v", p.Name, ctx.Err(), err)
	}
	return fmt.Errorf("replay %s interrupted and cancelled: %w", p.Name, ctx.Err())
}
