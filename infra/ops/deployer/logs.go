package deployer

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// LogsInput says which logs to show.
type LogsInput struct {
	StackName string
	// Function picks one function by handler name (scan, enrich, archive,
	// tag, alert); empty means all.
	Function string
	// Since is how far back to start. Zero means ten minutes.
	Since time.Duration
	// Follow keeps polling for new events until ctx ends.
	Follow bool
	// Out receives the log lines; nil means the Deployer's output.
	Out io.Writer
}

// LogGroup is the log group of one of the stack's functions.
type LogGroup struct {
	Function string
	Name     string
}

// LogGroups returns the log group of each of the stack's functions (the one
// its LoggingConfig names, else Lambda's /aws/lambda/<function>), sorted by
// function.
func (d *Deployer) LogGroups(ctx context.Context, stackName string) ([]LogGroup, error) {
	s, err := d.inspect(ctx, stackName)
	if err != nil {
		return nil, err
	}
	var out []LogGroup
	for _, f := range s.Template.Functions() {
		var name string
		if r, ok := s.Resource(f.LogGroup); ok && f.LogGroup != "" {
			name = r.PhysicalID
		} else if r, ok := s.Resource(f.LogicalID); ok {
			name = "/aws/lambda/" + r.PhysicalID
		}
		if name != "" {
			out = append(out, LogGroup{Function: f.HandlerDir, Name: name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function < out[j].Function })
	return out, nil
}

// Logs prints the functions' log events since in.Since, oldest first, one
// line each: time, function, message. With Follow it keeps polling
// (FilterLogEvents) and returns nil when ctx ends.
func (d *Deployer) Logs(ctx context.Context, in LogsInput) error {
	groups, err := d.LogGroups(ctx, in.StackName)
	if err != nil {
		return err
	}
	if in.Function != "" {
		var names []string
		var picked []LogGroup
		for _, g := range groups {
			names = append(names, g.Function)
			if g.Function == in.Function {
				picked = append(picked, g)
			}
		}
		if len(picked) == 0 {
			return fmt.Errorf("no function %q in stack %s (functions: %s)", in.Function, in.StackName, strings.Join(names, ", "))
		}
		groups = picked
	}
	out := in.Out
	if out == nil {
		out = d.out
	}
	since := in.Since
	if since <= 0 {
		since = 10 * time.Minute
	}
	width := 0
	for _, g := range groups {
		width = max(width, len(g.Function))
	}
	tails := make([]*tail, len(groups))
	start := time.Now().Add(-since).UnixMilli()
	for i, g := range groups {
		tails[i] = &tail{group: g, from: start, seen: map[string]int64{}}
	}
	// Tailing wants new lines within a couple of seconds; FilterLogEvents
	// allows far more calls than that makes.
	interval := min(d.poll, 2*time.Second)
	if in.Follow {
		fmt.Fprintf(out, "==> Following %d log groups (Ctrl-C to stop)\n", len(groups))
	}
	for {
		var batch []logLine
		for _, t := range tails {
			lines, err := d.readTail(ctx, t)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			batch = append(batch, lines...)
		}
		sort.SliceStable(batch, func(i, j int) bool { return batch[i].at < batch[j].at })
		for _, l := range batch {
			fmt.Fprintf(out, "%s %-*s %s\n", time.UnixMilli(l.at).UTC().Format("2006-01-02T15:04:05.000Z"), width, l.function, l.message)
		}
		if !in.Follow {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// tail is the read position in one log group. Events of the boundary
// millisecond are remembered so the next poll, which starts there again,
// does not repeat them.
type tail struct {
	group   LogGroup
	from    int64
	seen    map[string]int64 // event ID -> timestamp
	missing bool
}

type logLine struct {
	at       int64
	function string
	message  string
}

func (d *Deployer) readTail(ctx context.Context, t *tail) ([]logLine, error) {
	var lines []logLine
	var next *string
	for {
		out, err := d.c.Logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(t.group.Name), StartTime: aws.Int64(t.from), NextToken: next,
		})
		if err != nil {
			if notFound(err) {
				if !t.missing {
					t.missing = true
					d.say("(log group %s does not exist yet: %s has not run)", t.group.Name, t.group.Function)
				}
				return nil, nil
			}
			return nil, fmt.Errorf("read log group %s: %w", t.group.Name, err)
		}
		for _, e := range out.Events {
			id := aws.ToString(e.EventId)
			if _, dup := t.seen[id]; dup {
				continue
			}
			at := aws.ToInt64(e.Timestamp)
			t.seen[id] = at
			lines = append(lines, logLine{at: at, function: t.group.Function, message: strings.TrimRight(aws.ToString(e.Message), "\n")})
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	newest := t.from
	for _, at := range t.seen {
		newest = max(newest, at)
	}
	for id, at := range t.seen {
		if at < newest {
			delete(t.seen, id)
		}
	}
	t.from = newest
	return lines, nil
}
