package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/replay"
)

func TestParseImageArg(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		in   string
		want imageArg
		bad  string
	}{
		{in: digest, want: imageArg{digest: domain.Digest(digest)}},
		{in: "team/app@" + digest, want: imageArg{digest: domain.Digest(digest), repository: "team/app"}},
		{in: "team/app:v1", want: imageArg{repository: "team/app", tag: "v1"}},
		{in: "team/app", want: imageArg{repository: "team/app", tag: "latest"}},
		{in: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1", want: imageArg{registryID: "123456789012", region: "eu-west-1", repository: "team/app", tag: "v1"}},
		{in: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1.0", want: imageArg{registryID: "123456789012", region: "cn-north-1", repository: "app", tag: "1.0"}},
		{in: "sha256:abc", bad: "invalid digest"},
		{in: "team/app@sha256:xyz", bad: "invalid digest"},
		{in: "docker.io/library/nginx:1", bad: "not an ECR registry"},
		{in: "localhost:5000/app:v1", bad: "not an ECR registry"},
		{in: "Team/App:v1", bad: "invalid repository"},
		{in: "team/app:", bad: "tag"},
		{in: "team/app:$(id)", bad: "tag"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseImageArg(tc.in)
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("error %v, want one saying %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTraceID(t *testing.T) {
	tests := map[string]string{
		testTrace:                        "1-65f0c0de-0123456789abcdef01234567",
		"Sampled=1; Root=1-5-6;Parent=2": "1-5-6",
		"":                               "",
		"Parent=2":                       "",
	}
	for in, want := range tests {
		if got := traceID(in); got != want {
			t.Errorf("traceID(%q) = %q, want %q", in, got, want)
		}
	}
}

// status shows the record, the handlers' outcomes for its last event (from
// the markers consume.Dedupe writes) and the replays of it, as a table and
// as JSON.
func TestStatusOfACompletedScan(t *testing.T) {
	t.Parallel()
	s := deployCLIStack(t)
	d := newDigest(t)
	done := time.Date(2024, 5, 1, 10, 3, 0, 0, time.UTC)
	rec := s.put(t, false, done, newRef(t, d, "team/app", "v1"), newRef(t, d, "team/other", "stable"))
	live, err := events.NewScanEvent(rec)
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := events.ReplayEvent(rec, "replay-7")
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)
	store, err := dynamostore.NewIdempotencyStore(s.ddb, s.st.IdempotencyTable, dynamostore.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mark := func(handler string, ev events.ScanEvent, finish bool) {
		key := consume.IdempotencyKey(handler, ev)
		if err := store.Start(ctx, key, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
		if finish {
			if err := store.Finish(ctx, key, 1000*24*time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	mark("alert", live, true)
	mark("archive", live, false)
	mark("alert", replayed, true)
	mark("tag", events.ScanEvent{EventID: "some-other-event"}, true)

	code, stdout, stderr := runCLI(t, "status", rec.Digest.String(), "--stack", s.st.Name)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, want := range []string{
		"digest      " + rec.Digest.String(),
		"status      COMPLETED",
		"scan id     " + rec.ScanID,
		"scanned at  2024-05-01T10:03:00Z",
		"counts      6 vulnerabilities (critical 1, high 2, medium 3, low 0, informational 0, unknown 0), 1 fixable; 1 secrets",
		"failure     -",
		"report      s3://results/reports/" + d.Hex() + ".json.gz",
		"trace id    1-65f0c0de-0123456789abcdef01234567",
		"last event  ScanCompleted " + rec.Event.ID + " at 2024-05-01T10:03:00Z (published)",
		"team/other  stable  123456789012  us-east-1",
		"alert        DONE",
		"replay-7 DONE",
		"archive      IN_PROGRESS (lease until 2024-05-01T10:10:00Z)",
		"securityhub  none",
		"tag          none",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = runCLI(t, "status", "--stack", s.st.Name, "--json", rec.Digest.String())
	if code != exitOK {
		t.Fatalf("--json: exit %d, stderr %s", code, stderr)
	}
	if strings.Count(stdout, "\n") != 1 {
		t.Errorf("--json printed %d lines", strings.Count(stdout, "\n"))
	}
	var got statusReport
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if got.Digest != rec.Digest || got.Status != domain.StatusCompleted || got.ScanID != rec.ScanID || got.TraceID != "1-65f0c0de-0123456789abcdef01234567" ||
		got.Counts == nil || got.Counts.Vulnerabilities.Critical != 1 || len(got.References) != 2 || !got.LastEvent.Published || got.LastEvent.ID != rec.Event.ID {
		t.Errorf("report %+v", got)
	}
	want := []handlerOutcome{
		{Handler: "alert", Outcome: replay.MarkerDone, Replays: []replayOutcome{{ReplayID: "replay-7", EventID: replayed.EventID, Outcome: replay.MarkerDone}}},
		{Handler: "archive", Outcome: replay.MarkerInProgress, LeaseUntil: clock.Add(5 * time.Minute), Replays: []replayOutcome{}},
		{Handler: "securityhub", Outcome: outcomeNone, Replays: []replayOutcome{}},
		{Handler: "tag", Outcome: outcomeNone, Replays: []replayOutcome{}},
	}
	if len(got.Handlers) != len(want) {
		t.Fatalf("handlers %+v", got.Handlers)
	}
	for i := range want {
		g, w := got.Handlers[i], want[i]
		if g.Handler != w.Handler || g.Outcome != w.Outcome || !g.LeaseUntil.Equal(w.LeaseUntil) || len(g.Replays) != len(w.Replays) || (len(w.Replays) > 0 && g.Replays[0] != w.Replays[0]) {
			t.Errorf("handler %d: %+v, want %+v", i, g, w)
		}
	}
}

// A failed scan is published to alert only; status says the others are not
// subscribed rather than "none".
func TestStatusOfAFailedScanByTag(t *testing.T) {
	t.Parallel()
	s := deployCLIStack(t)
	ref := newRef(t, newDigest(t), "team/app", "v7")
	rec := s.put(t, true, time.Now().UTC(), ref)
	if err := local.RecordImage(context.Background(), ecr.NewFromConfig(s.cfg), ref); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"team/app:v7", ref.Registry() + "/team/app:v7", "team/app@" + rec.Digest.String()} {
		code, stdout, stderr := runCLI(t, "status", "--stack", s.st.Name, "--json", arg)
		if code != exitOK {
			t.Fatalf("%s: exit %d, stderr %s", arg, code, stderr)
		}
		var got statusReport
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		if got.Digest != rec.Digest || got.Status != domain.StatusFailed || got.Failure == nil || got.Failure.Class != domain.FailureRegistryAuth {
			t.Errorf("%s: %+v", arg, got)
		}
		outcomes := map[string]string{}
		for _, h := range got.Handlers {
			outcomes[h.Handler] = h.Outcome
		}
		if outcomes["alert"] != outcomeNone || outcomes["archive"] != outcomeNotSubscribed || outcomes["tag"] != outcomeNotSubscribed {
			t.Errorf("%s: outcomes %v", arg, outcomes)
		}
	}

	code, _, stderr := runCLI(t, "status", "--stack", s.st.Name, newDigest(t).String())
	if code != exitFailed || !strings.Contains(stderr, "no scan record for sha256:") {
		t.Errorf("unknown digest: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "status", "--stack", s.st.Name, "team/app:nosuch")
	if code != exitFailed || !strings.Contains(stderr, "team/app:nosuch: not found") {
		t.Errorf("unknown tag: exit %d, stderr %q", code, stderr)
	}
}

func TestStatusUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{name: "nothing", args: nil, msg: "want exactly one"},
		{name: "two images", args: []string{"a:1", "b:2"}, msg: "want exactly one"},
		{name: "bad image", args: []string{"Bad/Repo:1"}, msg: "invalid repository"},
		{name: "bad flag", args: []string{"--nope", "a:1"}, msg: "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"status"}, tc.args...)...)
			if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.msg) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", code, stdout, stderr, tc.msg)
			}
		})
	}
}

// buildStatus with a record whose last change is bookkeeping (a rescan
// running) shows no handler outcome for it, and no replays to look for.
func TestStatusOfARunningScan(t *testing.T) {
	d := newDigest(t)
	sc := domain.NewScan(d)
	now := time.Now()
	if _, err := sc.Claim(domain.Claim{Ref: newRef(t, d, "team/app", "v1"), Owner: "o", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	route, err := replay.NewRoute("alert", "q", []byte(`{"source":["ecr-image-scanner"]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMarkers{}
	rep, err := buildStatus(context.Background(), replay.Stack{Account: "123456789012", Region: "us-east-1"}, sc.Record(), []replay.Route{route}, m)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LastEvent.Published || len(rep.Handlers) != 1 || rep.Handlers[0].Outcome != outcomeNotPublished || m.gets != 0 || len(m.eventIDs) != 0 {
		t.Errorf("report %+v, markers read %+v", rep, m)
	}
}

type fakeMarkers struct {
	gets     int
	eventIDs []string
}

func (f *fakeMarkers) Get(context.Context, string, string) (replay.Marker, bool, error) {
	f.gets++
	return replay.Marker{}, false, nil
}

func (f *fakeMarkers) Replays(_ context.Context, _, eventIDs []string) ([]replay.Marker, error) {
	f.eventIDs = append(f.eventIDs, eventIDs...)
	return nil, nil
}
