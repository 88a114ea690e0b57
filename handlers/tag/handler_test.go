package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/testkit"
)

var (
	digestX = domain.Digest("sha256:" + strings.Repeat("a", 64))
	digestY = domain.Digest("sha256:" + strings.Repeat("b", 64))
	t0      = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// scanEvent builds a valid event of type typ for digest d scanned at at. The
// first of refs is the event's own reference; all of them are the digest's
// known references.
func scanEvent(t *testing.T, typ domain.EventType, d domain.Digest, at time.Time, refs ...string) events.ScanEvent {
	t.Helper()
	var all []domain.ImageRef
	for _, r := range refs {
		repo, tag, _ := strings.Cut(r, ":")
		all = append(all, testkit.MustRefOf(t, d, repo, tag))
	}
	ev := events.ScanEvent{
		SchemaVersion:   events.SchemaVersion,
		EventID:         domain.NewID(),
		EventType:       typ,
		Time:            at,
		ScanID:          "scan-" + d.Short() + "-" + at.Format("150405"),
		Digest:          d,
		Ref:             all[0],
		References:      all,
		Status:          domain.StatusCompleted,
		Summary:         &domain.Summary{Vulnerabilities: domain.Counts{Critical: 1, High: 2}},
		Report:          &domain.ReportLocation{Bucket: "reports", Key: "k"},
		Platform:        "linux/amd64",
		QScannerVersion: "4.1.0",
		ScannedAt:       at,
	}
	if typ == domain.EventScanFailed {
		ev.Status, ev.Summary, ev.Report = domain.StatusFailed, nil, nil
		ev.Failure = &domain.Failure{Class: domain.FailureImageNotFound, Reason: "gone"}
	}
	if err := ev.Validate(); err != nil {
		t.Fatalf("test event is invalid: %v", err)
	}
	return ev
}

func newTestHandler(t *testing.T) (*Handler, *fakeTagger, *fakeAttacher) {
	t.Helper()
	tagger, attacher := newFakeTagger(), newFakeAttacher()
	h, err := NewHandler(tagger, attacher, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	return h, tagger, attacher
}

func attachedRepos(a *fakeAttacher) []string {
	var out []string
	for _, ref := range a.attached {
		out = append(out, ref.Repository)
	}
	return out
}

func TestNewHandlerRejectsMissingDependencies(t *testing.T) {
	tagger, attacher := newFakeTagger(), newFakeAttacher()
	tests := []struct {
		name     string
		tagger   RepositoryTagger
		attacher SummaryAttacher
		logger   *slog.Logger
	}{
		{name: "no tagger", attacher: attacher, logger: testLogger()},
		{name: "no attacher", tagger: tagger, logger: testLogger()},
		{name: "no logger", tagger: tagger, attacher: attacher},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewHandler(tc.tagger, tc.attacher, tc.logger); err == nil {
				t.Error("NewHandler succeeded")
			}
		})
	}
}

func TestHandleActsForTheEventsRepositories(t *testing.T) {
	tests := []struct {
		name string
		ev   func(t *testing.T) events.ScanEvent
		want []string // repositories tagged and attached to, in order
	}{
		{
			name: "scan completed: every repository once, whatever its tags",
			ev: func(t *testing.T) events.ScanEvent {
				return scanEvent(t, domain.EventScanCompleted, digestX, t0, "team/app:v1", "team/app:latest", "team/mirror:v1", "team/app")
			},
			want: []string{"team/app", "team/mirror"},
		},
		{
			name: "image referenced: only the new repository",
			ev: func(t *testing.T) events.ScanEvent {
				return scanEvent(t, domain.EventImageReferenced, digestX, t0, "team/new:v2", "team/app:v1", "team/mirror:v1")
			},
			want: []string{"team/new"},
		},
		{
			name: "scan failed: nothing",
			ev: func(t *testing.T) events.ScanEvent {
				return scanEvent(t, domain.EventScanFailed, digestX, t0, "team/app:v1", "team/mirror:v1")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, tagger, attacher := newTestHandler(t)
			ev := tc.ev(t)
			if err := h.Handle(context.Background(), ev); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if !reflect.DeepEqual(tagger.written, tc.want) {
				t.Errorf("tagged %v, want %v", tagger.written, tc.want)
			}
			if !reflect.DeepEqual(attachedRepos(attacher), tc.want) {
				t.Errorf("attached to %v, want %v", attachedRepos(attacher), tc.want)
			}
			for _, ref := range attacher.attached {
				if ref.Digest != digestX || ref.Account != testkit.Account || ref.Region != testkit.Region {
					t.Errorf("attached to %+v, want digest %s in %s/%s", ref, digestX, testkit.Account, testkit.Region)
				}
			}
			for repo, s := range tagger.summaries {
				want := ecrstore.ScanSummary{
					Digest: digestX, ScanID: ev.ScanID, ScannedAt: t0, QScannerVersion: "4.1.0",
					Platform: "linux/amd64", Summary: *ev.Summary,
				}
				if !reflect.DeepEqual(s, want) {
					t.Errorf("summary written to %s = %+v, want %+v", repo, s, want)
				}
			}
		})
	}
}

func TestHandleKeepsANewerScansTags(t *testing.T) {
	tests := []struct {
		name     string
		recorded ecrstore.RecordedScan
		ev       time.Time
		digest   domain.Digest
		written  bool
	}{
		{name: "nothing recorded", ev: t0, digest: digestX, written: true},
		{name: "older recorded", recorded: ecrstore.RecordedScan{ScannedAt: t0.Add(-time.Hour), Digest: digestY.String()}, ev: t0, digest: digestX, written: true},
		{name: "newer recorded: late event", recorded: ecrstore.RecordedScan{ScannedAt: t0.Add(time.Nanosecond), Digest: digestY.String()}, ev: t0, digest: digestX},
		{name: "same scan again", recorded: ecrstore.RecordedScan{ScannedAt: t0, Digest: digestX.String()}, ev: t0, digest: digestX, written: true},
		{name: "same instant, greater digest recorded", recorded: ecrstore.RecordedScan{ScannedAt: t0, Digest: digestY.String()}, ev: t0, digest: digestX},
		{name: "same instant, smaller digest recorded", recorded: ecrstore.RecordedScan{ScannedAt: t0, Digest: digestX.String()}, ev: t0, digest: digestY, written: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, tagger, attacher := newTestHandler(t)
			if !tc.recorded.ScannedAt.IsZero() {
				tagger.recorded["team/app"] = tc.recorded
			}
			ev := scanEvent(t, domain.EventScanCompleted, tc.digest, tc.ev, "team/app:v1")
			if err := h.Handle(context.Background(), ev); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := len(tagger.written) == 1; got != tc.written {
				t.Errorf("tags written: %v, want %v", got, tc.written)
			}
			// The artifact belongs to the image, whatever the repository's
			// tags describe.
			if len(attacher.attached) != 1 {
				t.Errorf("attached %d summaries, want 1", len(attacher.attached))
			}
		})
	}
}

// A rescan (or a backfill, or a manual rescan) of an image other than the
// one the repository's labels describe leaves them alone, however newer its
// scan: the sweep rescans older images still in use, and they must not take
// over the repository. A rescan of the labelled image, or of one in a
// repository without labels, writes them.
func TestARescanOfAnotherImageKeepsTheRepositoryLabels(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cause    domain.Cause
		recorded string
		written  bool
	}{
		{"rescan of an older image", domain.CauseRescan, digestY.String(), false},
		{"backfill of another image", domain.CauseBackfill, digestY.String(), false},
		{"rescan of the labelled image", domain.CauseRescan, digestX.String(), true},
		{"rescan in a repository without labels", domain.CauseRescan, "", true},
		{"push of another image", domain.CausePush, digestY.String(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, tagger, attacher := newTestHandler(t)
			if tc.recorded != "" {
				tagger.recorded["team/app"] = ecrstore.RecordedScan{ScannedAt: t0.Add(-time.Hour), Digest: tc.recorded}
			}
			ev := scanEvent(t, domain.EventScanCompleted, digestX, t0, "team/app:v1")
			ev.Cause = tc.cause
			if err := h.Handle(context.Background(), ev); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := len(tagger.written) == 1; got != tc.written {
				t.Errorf("labels written: %v, want %v", got, tc.written)
			}
			if len(attacher.attached) != 1 {
				t.Errorf("attached %d summaries, want 1: the image's own artifact follows its scan", len(attacher.attached))
			}
		})
	}
}

// TestTagsConvergeWhateverTheOrder delivers the same events in every order,
// with redeliveries, and expects the repository to end up describing the
// newest scan each time.
func TestTagsConvergeWhateverTheOrder(t *testing.T) {
	older := scanEvent(t, domain.EventScanCompleted, digestX, t0, "team/app:v1")
	newer := scanEvent(t, domain.EventScanCompleted, digestY, t0.Add(time.Minute), "team/app:v2")
	// The older image pushed to the repository again after the newer scan:
	// its cached scan is still the older one.
	referenced := scanEvent(t, domain.EventImageReferenced, digestX, t0, "team/app:v3", "team/app:v1")
	orders := map[string][]events.ScanEvent{
		"in order":                 {older, newer, referenced},
		"reversed":                 {referenced, newer, older},
		"newest first":             {newer, older, referenced},
		"with redeliveries":        {older, newer, older, referenced, newer, older},
		"newest only, then others": {newer, newer, referenced, older},
	}
	for name, evs := range orders {
		t.Run(name, func(t *testing.T) {
			h, tagger, _ := newTestHandler(t)
			for _, ev := range evs {
				if err := h.Handle(context.Background(), ev); err != nil {
					t.Fatalf("Handle: %v", err)
				}
			}
			got := tagger.summaries["team/app"]
			if got.Digest != digestY || got.ScanID != newer.ScanID || !got.ScannedAt.Equal(newer.ScannedAt) {
				t.Errorf("repository describes %s (%s), want the newest scan %s (%s)", got.Digest, got.ScanID, digestY, newer.ScanID)
			}
		})
	}
}

func TestHandleErrors(t *testing.T) {
	notFound := fmt.Errorf("tag repository team/app: %w", domain.ErrNotFound)
	invalid := fmt.Errorf("tag repository team/app: %w", domain.ErrInvalid)
	throttled := errors.New("ThrottlingException")
	tests := []struct {
		name      string
		readErr   map[string]error
		writeErr  map[string]error
		attachErr map[string]error
		permanent bool
		tagged    []string
		attached  []string
	}{
		{
			name:      "repository gone: permanent, the other repository still done",
			writeErr:  map[string]error{"team/app": notFound},
			attachErr: map[string]error{"team/app": notFound},
			permanent: true,
			tagged:    []string{"team/mirror"},
			attached:  []string{"team/mirror"},
		},
		{
			name:      "image gone from one repository: the other's failure alone counts",
			attachErr: map[string]error{"team/app": notFound, "team/mirror": throttled},
			tagged:    []string{"team/app", "team/mirror"},
		},
		{
			name:      "tags refused: permanent",
			writeErr:  map[string]error{"team/mirror": invalid},
			permanent: true,
			tagged:    []string{"team/app"},
			attached:  []string{"team/app", "team/mirror"},
		},
		{
			name:     "reading tags throttled: retryable, no blind write",
			readErr:  map[string]error{"team/app": throttled},
			tagged:   []string{"team/mirror"},
			attached: []string{"team/app", "team/mirror"},
		},
		{
			name:      "artifact push fails: retryable",
			attachErr: map[string]error{"team/mirror": throttled},
			tagged:    []string{"team/app", "team/mirror"},
			attached:  []string{"team/app"},
		},
		{
			name:      "one permanent and one retryable failure: retryable",
			writeErr:  map[string]error{"team/app": notFound},
			attachErr: map[string]error{"team/mirror": throttled},
			tagged:    []string{"team/mirror"},
			attached:  []string{"team/app"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, tagger, attacher := newTestHandler(t)
			for k, v := range tc.readErr {
				tagger.readErr[k] = v
			}
			for k, v := range tc.writeErr {
				tagger.writeErr[k] = v
			}
			for k, v := range tc.attachErr {
				attacher.err[k] = v
			}
			ev := scanEvent(t, domain.EventScanCompleted, digestX, t0, "team/app:v1", "team/mirror:v1")
			err := h.Handle(context.Background(), ev)
			if err == nil {
				t.Fatal("Handle succeeded")
			}
			if consume.IsPermanent(err) != tc.permanent {
				t.Errorf("Handle = %v: permanent %v, want %v", err, consume.IsPermanent(err), tc.permanent)
			}
			if !reflect.DeepEqual(tagger.written, tc.tagged) {
				t.Errorf("tagged %v, want %v", tagger.written, tc.tagged)
			}
			if !reflect.DeepEqual(attachedRepos(attacher), tc.attached) {
				t.Errorf("attached to %v, want %v", attachedRepos(attacher), tc.attached)
			}
		})
	}
}

// An image deleted since its push has nothing to attach the summary to: the
// repository is still tagged and the event is done, not dead-lettered.
func TestImageGoneFromTheRegistryIsNoFailure(t *testing.T) {
	h, tagger, attacher := newTestHandler(t)
	notFound := fmt.Errorf("attach scan summary: read image: %w", domain.ErrNotFound)
	attacher.err["team/app"] = notFound
	ev := scanEvent(t, domain.EventScanCompleted, digestX, t0, "team/app:v1")
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	if !reflect.DeepEqual(tagger.written, []string{"team/app"}) || len(attachedRepos(attacher)) != 0 {
		t.Errorf("tagged %v, attached %v; want the tags only", tagger.written, attachedRepos(attacher))
	}
}

func TestHandleRejectsAnEventWithoutWhatItRecords(t *testing.T) {
	tests := []struct {
		name   string
		change func(*events.ScanEvent)
	}{
		{name: "image referenced without a summary", change: func(ev *events.ScanEvent) {
			ev.EventType = domain.EventImageReferenced
			ev.Summary = nil
		}},
		{name: "no scan time", change: func(ev *events.ScanEvent) { ev.ScannedAt = time.Time{} }},
		{name: "no scan ID", change: func(ev *events.ScanEvent) { ev.ScanID = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, tagger, attacher := newTestHandler(t)
			ev := scanEvent(t, domain.EventScanCompleted, digestX, t0, "team/app:v1")
			tc.change(&ev)
			err := h.Handle(context.Background(), ev)
			if !consume.IsPermanent(err) || !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("Handle = %v, want a permanent error wrapping domain.ErrInvalid", err)
			}
			if len(tagger.written)+len(attacher.attached) != 0 {
				t.Error("something was written")
			}
		})
	}
}

// TestRetagOfAnOlderCachedDigestKeepsTheNewerImageCurrent: the older image
// re-tagged after a newer scan arrives with a later event time but its cached
// scan's time; by domain.CurrentImage, the rule the Security Hub handler
// follows too, the repository's current image stays the newer scan.
func TestRetagOfAnOlderCachedDigestKeepsTheNewerImageCurrent(t *testing.T) {
	h, tagger, attacher := newTestHandler(t)
	newer := scanEvent(t, domain.EventScanCompleted, digestY, t0.Add(time.Minute), "team/app:v2")
	retag := scanEvent(t, domain.EventImageReferenced, digestX, t0, "team/app:latest", "team/app:v1")
	retag.Time = t0.Add(time.Hour)
	for _, ev := range []events.ScanEvent{newer, retag} {
		if err := h.Handle(context.Background(), ev); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	rec := tagger.recorded["team/app"]
	if rec.Digest != digestY.String() || !rec.ScannedAt.Equal(newer.ScannedAt) {
		t.Errorf("repository describes %s scanned %v, want the newer image %s", rec.Digest, rec.ScannedAt, digestY)
	}
	want := domain.ImageScan{Digest: digestY, ScannedAt: newer.ScannedAt}
	if domain.CurrentImage(want, domain.ImageScan{Digest: digestX, ScannedAt: retag.ScannedAt}) {
		t.Error("domain.CurrentImage would make the re-tagged older image current")
	}
	// The re-tagged image still gets its own summary artifact.
	if len(attacher.attached) != 2 || attacher.attached[1].Digest != digestX {
		t.Errorf("attached %+v, want the re-tagged image's summary too", attacher.attached)
	}
}
