package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/testkit"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// fakeUsage is what ECR would say, by repository and digest; a repository
// absent from it does not exist.
type fakeUsage struct {
	repos map[string]map[domain.Digest]ecrstore.Usage
	calls int
	err   error
	errs  map[string]error // by repository
}

func (f *fakeUsage) Describe(_ context.Context, _, _, repo string, ds []domain.Digest) (map[domain.Digest]ecrstore.Usage, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if err := f.errs[repo]; err != nil {
		return nil, err
	}
	imgs, ok := f.repos[repo]
	if !ok {
		return nil, domain.ErrNotFound
	}
	out := map[domain.Digest]ecrstore.Usage{}
	for _, d := range ds {
		if u, ok := imgs[d]; ok {
			out[d] = u
		}
	}
	return out, nil
}

type fakeSender struct {
	mu   sync.Mutex
	sent []events.ScanRequestMessage
	err  error
}

func (f *fakeSender) Send(_ context.Context, msgs []events.ScanRequestMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, msgs...)
	return nil
}

// scansTable is a moto scans table with the sweep's index, and its store.
func scansTable(t *testing.T) (*dynamodb.Client, string, *dynamostore.ScanStore) {
	t.Helper()
	ctx := context.Background()
	client := dynamodb.NewFromConfig(mototest.Config(t))
	table := mototest.UniqueName("scans")
	if _, err := mototest.CreateScansTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	if err := mototest.AddRescanIndex(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	store, err := dynamostore.NewScanStore(client, table)
	if err != nil {
		t.Fatal(err)
	}
	return client, table, store
}

// completeAt records a scan of ref completed at when, on the real store.
func completeAt(t *testing.T, store domain.ScanStore, ref domain.ImageRef, when time.Time) {
	t.Helper()
	err := store.Update(context.Background(), ref.Digest, func(s *domain.Scan) error {
		// NotBefore: a record already completed is rescanned, as the sweep's
		// request would have it.
		c := domain.Claim{Ref: ref, Owner: "o", Now: when, LeaseUntil: when.Add(time.Minute), Origin: domain.Origin{Cause: domain.CauseRescan, NotBefore: when}}
		if _, err := s.Claim(c); err != nil {
			return err
		}
		return s.Complete("o", domain.ScanResult{Summary: domain.Summary{}, Report: testkit.ReportAt(ref.Digest, "s")}, when, 30*24*time.Hour)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func digestN(n byte) domain.Digest {
	const hex = "0123456789abcdef"
	b := make([]byte, 64)
	for i := range b {
		b[i] = hex[(int(n)+i)%16]
	}
	return domain.Digest("sha256:" + string(b))
}

func newSweeper(t *testing.T, client *dynamodb.Client, table string, usage usageSource, send requestSender, perMinute int) *Sweeper {
	t.Helper()
	due, err := dynamostore.NewDueScans(client, table)
	if err != nil {
		t.Fatal(err)
	}
	due.PageSize = 2 // several pages even for a handful of records
	sw, err := NewSweeper(due, usage, send, Config{RescanAfter: 7 * 24 * time.Hour, Window: 30 * 24 * time.Hour, PerMinute: perMinute}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sw.sleep = func(context.Context, time.Duration) error { return nil }
	return sw
}

// The selection rules, on moto's DynamoDB and its real index: age (the
// index query), the pull/push window, deleted images and repositories,
// artifacts; records that are not completed are never read.
func TestSweepSelectionRules(t *testing.T) {
	client, table, store := scansTable(t)
	old, recent := now.Add(-10*24*time.Hour), now.Add(-2*24*time.Hour)
	ref := func(repo string, n byte) domain.ImageRef { return testkit.MustRefOf(t, digestN(n), repo, "v1") }
	pulled, fresh := ref("team/pulled", 1), ref("team/fresh", 2)
	idle, deleted, gone, sig := ref("team/idle", 3), ref("team/deleted", 4), ref("team/gone-repo", 5), ref("team/sig", 6)
	pushed, running := ref("team/pushed", 7), ref("team/running", 8)
	for _, r := range []domain.ImageRef{pulled, idle, deleted, gone, sig, pushed} {
		completeAt(t, store, r, old)
	}
	completeAt(t, store, fresh, recent)
	if err := store.Update(context.Background(), running.Digest, func(s *domain.Scan) error {
		_, err := s.Claim(domain.Claim{Ref: running, Owner: "o", Now: old, LeaseUntil: old.Add(time.Minute)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	usage := &fakeUsage{repos: map[string]map[domain.Digest]ecrstore.Usage{
		"team/pulled":  {pulled.Digest: {PushedAt: now.Add(-300 * 24 * time.Hour), LastPulled: now.Add(-24 * time.Hour), Kind: domain.ArtifactImage}},
		"team/fresh":   {fresh.Digest: {PushedAt: recent, Kind: domain.ArtifactImage}},
		"team/idle":    {idle.Digest: {PushedAt: now.Add(-90 * 24 * time.Hour), LastPulled: now.Add(-45 * 24 * time.Hour), Kind: domain.ArtifactImage}},
		"team/deleted": {},
		"team/sig":     {sig.Digest: {PushedAt: now.Add(-24 * time.Hour), Kind: domain.ArtifactSignature}},
		"team/pushed":  {pushed.Digest: {PushedAt: now.Add(-20 * 24 * time.Hour), Kind: domain.ArtifactImage}},
		"team/running": {running.Digest: {PushedAt: now.Add(-24 * time.Hour), Kind: domain.ArtifactImage}},
	}}
	send := &fakeSender{}
	rep, err := newSweeper(t, client, table, usage, send, 1000).Run(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Due != 6 {
		t.Errorf("due = %d, want 6 (the fresh and the running records are not due)", rep.Due)
	}
	want := map[string]int{SkipIdle: 1, SkipDeleted: 2, SkipArtifact: 1}
	for reason, n := range want {
		if rep.Skipped[reason] != n {
			t.Errorf("skipped %q = %d, want %d (all: %v)", reason, rep.Skipped[reason], n, rep.Skipped)
		}
	}
	got := map[domain.Digest]events.ScanRequestMessage{}
	for _, m := range send.sent {
		got[m.Ref.Digest] = m
	}
	if rep.Enqueued != 2 || len(got) != 2 {
		t.Fatalf("enqueued %d: %v; want the pulled and the recently pushed image", rep.Enqueued, got)
	}
	for _, r := range []domain.ImageRef{pulled, pushed} {
		m, ok := got[r.Digest]
		if !ok || m.Cause != domain.CauseRescan || m.Ref != r || !m.NotBefore.Equal(now.Add(-7*24*time.Hour)) {
			t.Errorf("request for %s = %+v; want a rescan of %s not before the cutoff", r.Repository, m, r.Display())
		}
	}
}

// A run cut short by its budget stops, says so, and the next run enqueues
// what is left: the index is the to-do list, so nothing is lost; a rescan
// request sent twice is served by one scan (NotBefore).
func TestSweepResumesWhereItStopped(t *testing.T) {
	client, table, store := scansTable(t)
	old := now.Add(-10 * 24 * time.Hour)
	usage := &fakeUsage{repos: map[string]map[domain.Digest]ecrstore.Usage{"team/many": {}}}
	for i := range byte(5) {
		r := testkit.MustRefOf(t, digestN(i), "team/many", "")
		completeAt(t, store, r, old)
		usage.repos["team/many"][r.Digest] = ecrstore.Usage{PushedAt: now.Add(-time.Hour), Kind: domain.ArtifactImage}
	}
	send := &fakeSender{}
	sw := newSweeper(t, client, table, usage, send, 3) // no deadline: a budget of 3 rescans
	rep, err := sw.Run(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Enqueued != 3 || rep.Stopped == "" {
		t.Fatalf("first run enqueued %d, stopped %q; want 3 and a reason", rep.Enqueued, rep.Stopped)
	}
	// Two of them are rescanned before the next run.
	for _, m := range send.sent[:2] {
		completeAt(t, store, m.Ref, now.Add(time.Hour))
	}
	send.sent = nil
	rep, err = sw.Run(context.Background(), now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Due != 3 || rep.Enqueued != 3 || rep.Stopped != "" {
		t.Errorf("second run: due %d enqueued %d stopped %q; want the 3 still due", rep.Due, rep.Enqueued, rep.Stopped)
	}
}

// A failure to send ends the run with the error (the schedule's next run
// tries again; the records stay due).
func TestSweepSendFailure(t *testing.T) {
	client, table, store := scansTable(t)
	r := testkit.MustRefOf(t, digestN(9), "team/app", "v1")
	completeAt(t, store, r, now.Add(-10*24*time.Hour))
	usage := &fakeUsage{repos: map[string]map[domain.Digest]ecrstore.Usage{"team/app": {r.Digest: {PushedAt: now, Kind: domain.ArtifactImage}}}}
	boom := errors.New("queue refused")
	_, err := newSweeper(t, client, table, usage, &fakeSender{err: boom}, 100).Run(context.Background(), now)
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the send error", err)
	}
}

// An ECR failure other than a missing repository (throttling past the
// SDK's retries, say) ends the run with the error: the function's invocation
// fails, SweepFunctionErrorsAlarm fires, and the records stay due.
func TestSweepECRFailure(t *testing.T) {
	client, table, store := scansTable(t)
	r := testkit.MustRefOf(t, digestN(10), "team/app", "v1")
	completeAt(t, store, r, now.Add(-10*24*time.Hour))
	boom := errors.New("ThrottlingException: rate exceeded")
	send := &fakeSender{}
	_, err := newSweeper(t, client, table, &fakeUsage{err: boom}, send, 100).Run(context.Background(), now)
	if !errors.Is(err, boom) || len(send.sent) != 0 {
		t.Fatalf("Run = %v with %d sent; want the ECR error and nothing sent", err, len(send.sent))
	}
}

// A member registry whose spoke role cannot be used (missing, or trusting
// another hub) does not stop the sweep: its images are skipped with the
// reason, stay due for the next run, and every other registry is swept.
func TestSweepSkipsAnUnreachableMemberRegistry(t *testing.T) {
	client, table, store := scansTable(t)
	home := testkit.MustRefOf(t, digestN(11), "team/app", "v1")
	member := testkit.MustRefOf(t, digestN(12), "member/app", "v1")
	completeAt(t, store, home, now.Add(-10*24*time.Hour))
	completeAt(t, store, member, now.Add(-10*24*time.Hour))
	usage := &fakeUsage{
		repos: map[string]map[domain.Digest]ecrstore.Usage{"team/app": {home.Digest: {PushedAt: now, Kind: domain.ArtifactImage}}},
		errs:  map[string]error{"member/app": &ecrstore.RoleError{Role: "arn:aws:iam::111122223333:role/ecrscan-spoke", Err: errors.New("AccessDenied")}},
	}
	send := &fakeSender{}
	rep, err := newSweeper(t, client, table, usage, send, 100).Run(context.Background(), now)
	if err != nil {
		t.Fatalf("Run = %v, want the other registries swept", err)
	}
	if len(send.sent) != 1 || send.sent[0].Ref.Digest != home.Digest {
		t.Fatalf("sent %+v, want only the home image's rescan", send.sent)
	}
	if rep.Skipped[SkipUnreachable] != 1 || rep.Skipped[SkipDeleted] != 0 {
		t.Fatalf("skipped %v, want the member's image skipped as unreachable, not as deleted", rep.Skipped)
	}
}

// A run left no time by its reserve reads nothing: the index is not
// queried for rescans that could not be sent.
func TestSweepWithoutTimeReadsNothing(t *testing.T) {
	client, table, store := scansTable(t)
	r := testkit.MustRefOf(t, digestN(13), "team/app", "v1")
	completeAt(t, store, r, now.Add(-10*24*time.Hour))
	usage := &fakeUsage{repos: map[string]map[domain.Digest]ecrstore.Usage{"team/app": {r.Digest: {PushedAt: now, Kind: domain.ArtifactImage}}}}
	sw := newSweeper(t, client, table, usage, &fakeSender{}, 100)
	sw.cfg.Reserve = time.Hour
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(time.Minute))
	defer cancel()
	rep, err := sw.Run(ctx, now)
	if err != nil || rep.Due != 0 || usage.calls != 0 || rep.Stopped == "" {
		t.Fatalf("Run = %+v, %v; want nothing read, no ECR call, and the reason in Stopped", rep, err)
	}
}
