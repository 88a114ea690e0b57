package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/replay"
)

// statusReport is what status shows, and its --json form.
type statusReport struct {
	Digest     domain.Digest          `json:"digest"`
	Status     domain.Status          `json:"status"`
	ScanID     string                 `json:"scanId"`
	Attempts   int                    `json:"attempts"`
	StartedAt  time.Time              `json:"startedAt,omitzero"`
	ScannedAt  time.Time              `json:"scannedAt,omitzero"`
	Counts     *statusCounts          `json:"counts,omitempty"`
	Failure    *domain.Failure        `json:"failure,omitempty"`
	Report     *domain.ReportLocation `json:"report,omitempty"`
	TraceID    string                 `json:"traceId,omitempty"`
	References []domain.Reference     `json:"references"`
	LastEvent  statusEvent            `json:"lastEvent"`
	Handlers   []handlerOutcome       `json:"handlers"`
}

type statusCounts struct {
	Vulnerabilities domain.Counts `json:"vulnerabilities"`
	Fixable         domain.Counts `json:"fixable"`
	Secrets         int           `json:"secrets"`
	Partial         bool          `json:"partial,omitempty"`
}

type statusEvent struct {
	Type domain.EventType `json:"type"`
	ID   string           `json:"id"`
	At   time.Time        `json:"at,omitzero"`
	// Published says handlers were sent this event; bookkeeping events
	// (a scan starting, a retry) never leave the table.
	Published bool `json:"published"`
}

// Handler outcomes beside the idempotency statuses.
const (
	outcomeNone          = "none"           // no marker: not received yet, or the marker expired
	outcomeNotSubscribed = "not subscribed" // the handler's rule does not take this event
	outcomeNotPublished  = "n/a"            // the last event was not published
)

type handlerOutcome struct {
	Handler    string          `json:"handler"`
	Outcome    string          `json:"outcome"`
	LeaseUntil time.Time       `json:"leaseUntil,omitzero"`
	Replays    []replayOutcome `json:"replays"`
}

type replayOutcome struct {
	ReplayID   string    `json:"replayId"`
	EventID    string    `json:"eventId"`
	Outcome    string    `json:"outcome"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
}

// markerReader is what buildStatus reads the idempotency table with.
type markerReader interface {
	Get(ctx context.Context, handler, eventID string) (replay.Marker, bool, error)
	Replays(ctx context.Context, handlers, eventIDs []string) ([]replay.Marker, error)
}

// buildStatus gathers the report for rec: the handlers' markers for its last
// event when that event was published, and every handler's markers for
// replays of it (an archive replay keeps the event's ID; a replay from the
// table uses events.ReplayEventID).
func buildStatus(ctx context.Context, st replay.Stack, rec domain.ScanRecord, routes []replay.Route, markers markerReader) (statusReport, error) {
	rep := newStatusReport(rec)
	shown, eventIDs, err := shownEvent(rec)
	if err != nil {
		return rep, err
	}
	subscribed := map[string]bool{}
	if shown.EventID != "" {
		hs, err := replay.Routed(routes, shown, st.Account, st.Region)
		if err != nil {
			return rep, err
		}
		for _, h := range hs {
			subscribed[h] = true
		}
	}
	handlers := make([]string, len(routes))
	for i, r := range routes {
		handlers[i] = r.Handler
	}
	replays, err := markers.Replays(ctx, handlers, eventIDs)
	if err != nil {
		return rep, err
	}
	for _, h := range handlers {
		o := handlerOutcome{Handler: h, Outcome: outcomeNotPublished, Replays: replayOutcomes(h, replays)}
		switch {
		case !rep.LastEvent.Published:
		case !subscribed[h]:
			o.Outcome = outcomeNotSubscribed
		default:
			if o.Outcome, o.LeaseUntil, err = lastEventOutcome(ctx, markers, h, rec.Event.ID); err != nil {
				return rep, err
			}
		}
		rep.Handlers = append(rep.Handlers, o)
	}
	return rep, nil
}

// newStatusReport is the report's part that rec alone gives.
func newStatusReport(rec domain.ScanRecord) statusReport {
	rep := statusReport{
		Digest: rec.Digest, Status: rec.Status, ScanID: rec.ScanID, Attempts: rec.Attempts,
		StartedAt: rec.StartedAt, ScannedAt: rec.CompletedAt, Failure: rec.Failure, Report: rec.Report,
		TraceID:    traceID(rec.TraceHeader),
		References: rec.References,
		LastEvent:  statusEvent{Type: rec.Event.Type, ID: rec.Event.ID, At: rec.Event.At, Published: rec.Event.Type.Published()},
	}
	if rep.References == nil {
		rep.References = []domain.Reference{}
	}
	if s := rec.Summary; s != nil {
		rep.Counts = &statusCounts{Vulnerabilities: s.Vulnerabilities, Fixable: s.Fixable, Secrets: s.Secrets, Partial: s.Partial}
	}
	return rep
}

// shownEvent is the event whose handling is shown (none when rec has
// nothing to publish or replay), and the IDs its publication and its
// replays carry.
func shownEvent(rec domain.ScanRecord) (events.ScanEvent, []string, error) {
	var shown events.ScanEvent
	var eventIDs []string
	if rec.Event.Type.Published() {
		ev, err := events.NewScanEvent(rec)
		if err != nil {
			return shown, nil, err
		}
		shown = ev
		eventIDs = append(eventIDs, ev.EventID)
	}
	if outcome, err := events.ReplayOutcome(rec); err == nil {
		if shown.EventID == "" {
			if shown, err = events.ReplayEvent(rec, "status"); err != nil {
				return shown, nil, err
			}
		}
		if id := events.ReplayEventID(rec.ScanID, outcome); id != rec.Event.ID {
			eventIDs = append(eventIDs, id)
		}
	}
	return shown, eventIDs, nil
}

// lastEventOutcome is what handler did with the event eventID: its marker's
// status, with the lease while in progress, or none.
func lastEventOutcome(ctx context.Context, markers markerReader, handler, eventID string) (string, time.Time, error) {
	m, ok, err := markers.Get(ctx, handler, eventID)
	if err != nil || !ok {
		return outcomeNone, time.Time{}, err
	}
	if m.Status == replay.MarkerInProgress {
		return m.Status, m.LeaseUntil, nil
	}
	return m.Status, time.Time{}, nil
}

// replayOutcomes are handler's markers among replays.
func replayOutcomes(handler string, replays []replay.Marker) []replayOutcome {
	out := []replayOutcome{}
	for _, m := range replays {
		if m.Handler != handler {
			continue
		}
		ro := replayOutcome{ReplayID: m.ReplayID, EventID: m.EventID, Outcome: m.Status}
		if m.Status == replay.MarkerInProgress {
			ro.LeaseUntil = m.LeaseUntil
		}
		out = append(out, ro)
	}
	return out
}

// traceID is the Root part of an X-Ray trace header.
func traceID(header string) string {
	for _, part := range strings.Split(header, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			return v
		}
	}
	return ""
}

func printStatus(w io.Writer, rep statusReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("digest", rep.Digest.String())
	row("status", string(rep.Status))
	row("scan id", rep.ScanID)
	row("attempts", fmt.Sprint(rep.Attempts))
	row("started at", statusTime(rep.StartedAt))
	row("scanned at", statusTime(rep.ScannedAt))
	if c := rep.Counts; c != nil {
		v := c.Vulnerabilities
		s := fmt.Sprintf("%d vulnerabilities (critical %d, high %d, medium %d, low %d, informational %d, unknown %d), %d fixable; %d secrets",
			v.Total(), v.Critical, v.High, v.Medium, v.Low, v.Informational, v.Unknown, c.Fixable.Total(), c.Secrets)
		if c.Partial {
			s += " (partial report)"
		}
		row("counts", s)
	} else {
		row("counts", "-")
	}
	if rep.Failure != nil {
		row("failure", rep.Failure.Error())
	} else {
		row("failure", "-")
	}
	if rep.Report != nil {
		row("report", "s3://"+rep.Report.Bucket+"/"+rep.Report.Key)
	} else {
		row("report", "-")
	}
	row("trace id", statusOrDash(rep.TraceID))
	ev := rep.LastEvent
	published := "published"
	if !ev.Published {
		published = "not published"
	}
	row("last event", fmt.Sprintf("%s %s at %s (%s)", ev.Type, ev.ID, statusTime(ev.At), published))
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tACCOUNT\tREGION\tFIRST SEEN")
	for _, r := range rep.References {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, statusOrDash(r.Tag), r.Account, r.Region, statusTime(r.FirstSeen))
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLER\tLAST EVENT\tREPLAYS")
	for _, h := range rep.Handlers {
		outcome := h.Outcome
		if !h.LeaseUntil.IsZero() {
			outcome += " (lease until " + statusTime(h.LeaseUntil) + ")"
		}
		var rs []string
		for _, r := range h.Replays {
			rs = append(rs, r.ReplayID+" "+r.Outcome)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", h.Handler, outcome, statusOrDash(strings.Join(rs, ", ")))
	}
	tw.Flush()
}

func statusTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func statusOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
