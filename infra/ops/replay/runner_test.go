package replay_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/ops/stack"
	"ecrscanner/infra/ops/testkit"
)

// fakeSource serves fixed pages by offset.
type fakeSource struct{ pages []replay.Page }

func (f *fakeSource) Count(context.Context) (int, error) {
	n := 0
	for _, p := range f.pages {
		n += len(p.Records) + len(p.Missing)
	}
	return n, nil
}

func (f *fakeSource) Page(_ context.Context, pos replay.Position) (replay.Page, error) {
	p := f.pages[pos.Offset]
	p.Next = replay.Position{Offset: pos.Offset + 1}
	p.Last = pos.Offset == len(f.pages)-1
	return p, nil
}

// fakeSink records what it is sent and fails from the failAt-th call on.
type fakeSink struct {
	got    []events.ScanEvent
	calls  int
	failAt int
}

func (f *fakeSink) Send(_ context.Context, evs []events.ScanEvent) (int, error) {
	f.calls++
	if f.failAt > 0 && f.calls >= f.failAt {
		return 0, errBoom
	}
	f.got = append(f.got, evs...)
	return len(evs), nil
}

func completedRecord(t *testing.T, repo string) domain.ScanRecord {
	t.Helper()
	ev := replayEvents(t, 1, 0)[0]
	now := ev.Time
	s := domain.NewScan(ev.Digest)
	if _, err := s.Claim(domain.Claim{Ref: imageRef(t, ev.Digest, repo, "v1"), Owner: "o", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete("o", domain.ScanResult{Report: domain.ReportLocation{Bucket: "b", Key: "k"}}, now, time.Hour); err != nil {
		t.Fatal(err)
	}
	return s.Record()
}

func scanningRecord(t *testing.T) domain.ScanRecord {
	t.Helper()
	d := testkit.RandomDigest(t)
	s := domain.NewScan(d)
	now := time.Now()
	if _, err := s.Claim(domain.Claim{Ref: imageRef(t, d, "team/app", "v1"), Owner: "o", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return s.Record()
}

func TestRunnerCountsAndCheckpoints(t *testing.T) {
	var recs []domain.ScanRecord
	for range 12 {
		recs = append(recs, completedRecord(t, "team/app"))
	}
	other := completedRecord(t, "team/other")
	scanning := scanningRecord(t)
	missing := testkit.RandomDigest(t)
	src := &fakeSource{pages: []replay.Page{
		{Records: recs[:11]},
		{Records: []domain.ScanRecord{recs[11], other, scanning}, Missing: []domain.Digest{missing}},
	}}
	sink := &fakeSink{}
	var saved []replay.Checkpoint
	var skipped []domain.Digest
	var progress []replay.Progress
	r := &replay.Runner{
		Source: src, Sink: sink,
		Save:     func(cp replay.Checkpoint) error { saved = append(saved, cp); return nil },
		Skip:     func(rec domain.ScanRecord, err error) { skipped = append(skipped, rec.Digest) },
		Progress: func(p replay.Progress) { progress = append(progress, p) },
	}
	cp, err := r.Run(context.Background(), replay.Checkpoint{ReplayID: "r1", Stack: "s", Selection: replay.Selection{Repository: "team/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if cp.Sent != 12 || cp.Skipped != 2 || !slices.Equal(cp.Missing, []domain.Digest{missing}) || cp.Total != 15 || !cp.Done {
		t.Errorf("checkpoint %+v", cp)
	}
	if len(sink.got) != 12 || sink.calls != 3 {
		t.Errorf("sink got %d events in %d calls, want 12 in 3 (batches of ten)", len(sink.got), sink.calls)
	}
	if !slices.Equal(skipped, []domain.Digest{scanning.Digest}) {
		t.Errorf("skip reported %v, want only the scanning record", skipped)
	}
	// Saved at the start and after each page.
	if len(saved) != 3 || saved[0].Sent != 0 || saved[1].Sent != 11 || saved[1].Position.Offset != 1 || !saved[2].Done {
		t.Errorf("saved %+v", saved)
	}
	if len(progress) == 0 || !progress[len(progress)-1].PageDone || progress[len(progress)-1].Sent != 12 {
		t.Errorf("progress %+v", progress)
	}
}

// A failure mid-page leaves the checkpoint at the page's start, so resuming
// sends the whole page again under the same replay ID (and handlers drop
// what they already did).
func TestRunnerFailureKeepsTheLastSavedCheckpoint(t *testing.T) {
	var recs []domain.ScanRecord
	for range 25 {
		recs = append(recs, completedRecord(t, "team/app"))
	}
	src := &fakeSource{pages: []replay.Page{{Records: recs[:5]}, {Records: recs[5:]}}}
	sink := &fakeSink{failAt: 3} // page 2's second batch
	var last replay.Checkpoint
	r := &replay.Runner{Source: src, Sink: sink, Save: func(cp replay.Checkpoint) error { last = cp; return nil }}
	cp, err := r.Run(context.Background(), replay.Checkpoint{ReplayID: "r1", Stack: "s", Selection: replay.Selection{All: true}})
	if !errors.Is(err, errBoom) {
		t.Fatalf("error %v", err)
	}
	if cp.Sent != 5 || cp.Position.Offset != 1 || last.Sent != 5 {
		t.Errorf("returned %+v, saved %+v; want both after page 1", cp, last)
	}
	sink.failAt = 0
	cp, err = r.Run(context.Background(), cp)
	if err != nil || cp.Sent != 25 || !cp.Done {
		t.Fatalf("resumed: %+v, %v", cp, err)
	}
}

func TestRunnerRefusesBadCheckpoints(t *testing.T) {
	r := &replay.Runner{Source: &fakeSource{}, Sink: &fakeSink{}}
	if _, err := r.Run(context.Background(), replay.Checkpoint{Stack: "s", Selection: replay.Selection{All: true}}); err == nil {
		t.Error("no replay ID accepted")
	}
	if _, err := r.Run(context.Background(), replay.Checkpoint{ReplayID: "r", Stack: "s"}); !errors.Is(err, replay.ErrEmptySelection) {
		t.Errorf("empty selection: %v", err)
	}
}

func TestSelection(t *testing.T) {
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	rec := completedRecord(t, "team/app")
	rec.CompletedAt = base
	tests := []struct {
		name    string
		sel     replay.Selection
		valid   bool
		matches bool
	}{
		{name: "empty", sel: replay.Selection{}},
		{name: "all", sel: replay.Selection{All: true}, valid: true, matches: true},
		{name: "all with more", sel: replay.Selection{All: true, Repository: "team/app"}},
		{name: "bad repository", sel: replay.Selection{Repository: "Team/App"}},
		{name: "inverted window", sel: replay.Selection{Since: base, Until: base}},
		{name: "digest", sel: replay.Selection{Digests: []domain.Digest{rec.Digest}}, valid: true, matches: true},
		{name: "other digest", sel: replay.Selection{Digests: []domain.Digest{testkit.RandomDigest(t)}}, valid: true},
		{name: "repository", sel: replay.Selection{Repository: "team/app"}, valid: true, matches: true},
		{name: "other repository", sel: replay.Selection{Repository: "team/other"}, valid: true},
		{name: "since is inclusive", sel: replay.Selection{Since: base}, valid: true, matches: true},
		{name: "until is exclusive", sel: replay.Selection{Until: base}, valid: true},
		{name: "window", sel: replay.Selection{Since: base.Add(-time.Hour), Until: base.Add(time.Nanosecond)}, valid: true, matches: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.sel.Validate(); (err == nil) != tc.valid {
				t.Fatalf("Validate: %v, want valid %v", err, tc.valid)
			}
			if tc.valid {
				if got := tc.sel.Match(rec); got != tc.matches {
					t.Errorf("Match %v, want %v", got, tc.matches)
				}
			}
		})
	}
}

func TestCheckpointFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), replay.DefaultCheckpointPath("abc"))
	cp := replay.Checkpoint{ReplayID: "abc", Stack: "s", Selection: replay.Selection{Repository: "team/app", Since: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		Handlers: []string{"alert"}, Position: replay.Position{LastKey: map[string]string{"digest": "sha256:x"}}, Sent: 3}
	if err := replay.SaveCheckpoint(path, cp); err != nil {
		t.Fatal(err)
	}
	got, err := replay.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReplayID != "abc" || got.Position.LastKey["digest"] != "sha256:x" || !got.Selection.Since.Equal(cp.Selection.Since) || got.Sent != 3 || got.Handlers[0] != "alert" {
		t.Errorf("read back %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files next to the checkpoint, want no temporary left", len(entries))
	}
	if err := os.WriteFile(path, []byte(`{"version":99,"replayId":"a","stack":"s","selection":{"all":true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := replay.LoadCheckpoint(path); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("a checkpoint of another version: %v", err)
	}
}

// Handlers are found in the template: today's four, and any rule on the bus
// that feeds a queue named <X>Queue that a function reads; not the
// rejected-records queue, which no function reads.
func TestHandlerSpecs(t *testing.T) {
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range replay.HandlerSpecs(tmpl) {
		names = append(names, h.Name)
		if h.Rule == "" || !strings.HasSuffix(h.Queue, "Queue") {
			t.Errorf("spec %+v", h)
		}
	}
	if !slices.Equal(names, []string{"alert", "archive", "securityhub", "tag"}) {
		t.Errorf("handlers %v", names)
	}
	extra, err := stack.Parse([]byte(`
Resources:
  ImageScansBus: {Type: AWS::Events::EventBus, Properties: {Name: bus}}
  SecurityHubRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !GetAtt ImageScansBus.Name
      EventPattern: {source: [ecr-image-scanner]}
      Targets: [{Id: q, Arn: !GetAtt SecurityHubQueue.Arn}]
  SecurityHubQueue: {Type: AWS::SQS::Queue}
  SecurityHubMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt SecurityHubQueue.Arn, FunctionName: !Ref SecurityHubFunction}
  SecurityHubFunction: {Type: AWS::Lambda::Function}
  RejectedRecordsRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !GetAtt ImageScansBus.Name
      EventPattern: {source: [ecr-image-scanner], detail: {eventType: [RecordRejected]}}
      Targets: [{Id: q, Arn: !GetAtt RejectedRecordsQueue.Arn}]
  RejectedRecordsQueue: {Type: AWS::SQS::Queue}
  DefaultBusRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [aws.ecr]}
      Targets: [{Id: q, Arn: !GetAtt ScanQueue.Arn}]
  ScanQueue: {Type: AWS::SQS::Queue}
`))
	if err != nil {
		t.Fatal(err)
	}
	specs := replay.HandlerSpecs(extra)
	if len(specs) != 1 || specs[0] != (replay.HandlerSpec{Name: "securityhub", Rule: "SecurityHubRule", Queue: "SecurityHubQueue"}) {
		t.Errorf("specs %+v, want only securityhub", specs)
	}
}

// status reads the keys consume.Dedupe writes.
func TestMarkerKeyIsTheIdempotencyKey(t *testing.T) {
	for _, replayID := range []string{"", "r-1", "archive:ecrscan-x"} {
		ev := events.ScanEvent{EventID: "e1", ReplayID: replayID}
		if got, want := replay.MarkerKey("alert", "e1", replayID), consume.IdempotencyKey("alert", ev); got != want {
			t.Errorf("MarkerKey %q, consume.IdempotencyKey %q", got, want)
		}
	}
}
