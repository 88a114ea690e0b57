package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/ops/stack"
)

func init() {
	register("status", command{
		usage: "show an image's scan record, its handlers' outcomes and its X-Ray trace ID",
		run:   runStatus,
	})
}

const statusUsage = `usage: ecrscan status IMAGE_OR_DIGEST [--stack NAME] [--json]

IMAGE_OR_DIGEST is a digest (sha256:...) or an image: repo:tag,
registry/repo:tag or repo@sha256:... (a tag is resolved with ECR DescribeImages).
Shows the scan record (status, scan ID, counts, failure, references), what
each handler did with the record's last published event (DONE, IN_PROGRESS
or none, and any replays of it), and the scan's X-Ray trace ID.

  --stack NAME  the scanner's stack (default $STACK_NAME, else qualys-ecr-scanner)
  --json        print one JSON object instead of the table

Exit 0: shown. Exit 1: no scan record for the digest, or a lookup failed.
Exit 2: bad usage.`

// imageArg is what status was asked about: a digest, or a tag to resolve.
type imageArg struct {
	digest                         domain.Digest
	registryID, region, repository string
	tag                            string
}

// ecrRegistryRE reads an ECR registry host: account and region.
var ecrRegistryRE = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`)

// parseImageArg reads a digest, repo:tag, registry/repo:tag or
// [registry/]repo@digest. A missing tag means latest, as for docker pull.
func parseImageArg(s string) (imageArg, error) {
	if strings.HasPrefix(s, "sha256:") {
		d, err := domain.ParseDigest(s)
		return imageArg{digest: d}, err
	}
	if _, dg, ok := strings.Cut(s, "@"); ok {
		d, err := domain.ParseDigest(dg)
		return imageArg{digest: d}, err
	}
	var a imageArg
	name := s
	if host, rest, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		m := ecrRegistryRE.FindStringSubmatch(host)
		if m == nil {
			return imageArg{}, fmt.Errorf("%q is not an ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com)", host)
		}
		a.registryID, a.region, name = m[1], m[2], rest
	}
	a.repository, a.tag = name, "latest"
	if i := strings.LastIndex(name, ":"); i >= 0 {
		a.repository, a.tag = name[:i], name[i+1:]
	}
	if err := domain.ValidateRepository(a.repository); err != nil {
		return imageArg{}, err
	}
	if err := domain.ValidateTag(a.tag); err != nil || a.tag == "" {
		return imageArg{}, fmt.Errorf("tag %q: want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", a.tag)
	}
	return a, nil
}

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

func runStatus(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "ecrscan status: "+format+"\n", a...)
		return code
	}
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stackName := fs.String("stack", stackFromEnv(), "")
	asJSON := fs.Bool("json", false, "")
	// Flags may come before or after the image.
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(stderr, statusUsage)
				return exitOK
			}
			return fail(exitUsage, "%v; see ecrscan status -h", err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 {
		return fail(exitUsage, "want exactly one IMAGE_OR_DIGEST, got %d; see ecrscan status -h", len(positional))
	}
	img, err := parseImageArg(positional[0])
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	ctx := context.Background()
	cfg, err := loadAWSConfig(ctx)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	tmpl, err := stack.Load()
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	st, err := replay.LoadStack(ctx, cloudformation.NewFromConfig(cfg), *stackName, tmpl)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	digest := img.digest
	if digest == "" {
		if digest, err = replay.ResolveTag(ctx, ecr.NewFromConfig(cfg), img.registryID, img.region, img.repository, img.tag); err != nil {
			return fail(exitFailed, "%v", err)
		}
	}
	ddb := dynamodb.NewFromConfig(cfg)
	rec, ok, err := replay.GetRecord(ctx, ddb, st.ScansTable, digest)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	if !ok {
		return fail(exitFailed, "no scan record for %s in stack %s (never pushed, not an image, or expired from the cache)", digest, st.Name)
	}
	routes, err := replay.LoadRoutes(ctx, eventbridge.NewFromConfig(cfg), st, st.Handlers)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	markers, err := replay.NewMarkers(ddb, st.IdempotencyTable)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	rep, err := buildStatus(ctx, st, rec, routes, markers)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	if *asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return fail(exitFailed, "encode status: %v", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	printStatus(stdout, rep)
	return exitOK
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
	// The event whose handling is shown, and the IDs its replays carry.
	var shown events.ScanEvent
	var eventIDs []string
	if rep.LastEvent.Published {
		ev, err := events.NewScanEvent(rec)
		if err != nil {
			return rep, err
		}
		shown = ev
		eventIDs = append(eventIDs, ev.EventID)
	}
	if outcome, err := events.ReplayOutcome(rec); err == nil {
		if shown.EventID == "" {
			if shown, err = events.ReplayEvent(rec, "status"); err != nil {
				return rep, err
			}
		}
		if id := events.ReplayEventID(rec.ScanID, outcome); id != rec.Event.ID {
			eventIDs = append(eventIDs, id)
		}
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
		o := handlerOutcome{Handler: h, Outcome: outcomeNotPublished, Replays: []replayOutcome{}}
		switch {
		case !rep.LastEvent.Published:
		case !subscribed[h]:
			o.Outcome = outcomeNotSubscribed
		default:
			m, ok, err := markers.Get(ctx, h, rec.Event.ID)
			if err != nil {
				return rep, err
			}
			o.Outcome = outcomeNone
			if ok {
				o.Outcome = m.Status
				if m.Status == replay.MarkerInProgress {
					o.LeaseUntil = m.LeaseUntil
				}
			}
		}
		for _, m := range replays {
			if m.Handler != h {
				continue
			}
			ro := replayOutcome{ReplayID: m.ReplayID, EventID: m.EventID, Outcome: m.Status}
			if m.Status == replay.MarkerInProgress {
				ro.LeaseUntil = m.LeaseUntil
			}
			o.Replays = append(o.Replays, ro)
		}
		rep.Handlers = append(rep.Handlers, o)
	}
	return rep, nil
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
