package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/replay"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// cliStack is a scanner stack deployed into moto for the CLI to find.
type cliStack struct {
	cfg    aws.Config
	st     replay.Stack
	ddb    *dynamodb.Client
	sqs    *sqs.Client
	scans  *dynamostore.ScanStore
	queues map[string]string
}

var aimAtMoto sync.Once

func deployCLIStack(t *testing.T) *cliStack {
	t.Helper()
	cfg := mototest.Config(t)
	aimAtMoto.Do(func() { loadAWSConfig = func(context.Context) (aws.Config, error) { return cfg, nil } })
	ctx := context.Background()
	d, err := local.Deploy(ctx, cfg, local.DeployOptions{StackName: mototest.UniqueName("ecrscan"), Params: map[string]string{"QualysAccessToken": "t0ken"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Provide(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := replay.LoadStack(ctx, cloudformation.NewFromConfig(cfg), d.Name, d.Template)
	if err != nil {
		t.Fatal(err)
	}
	s := &cliStack{cfg: cfg, st: st, ddb: dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), queues: map[string]string{}}
	if s.scans, err = dynamostore.NewScanStore(s.ddb, st.ScansTable); err != nil {
		t.Fatal(err)
	}
	for _, h := range st.Handlers {
		s.queues[h.Name] = h.Queue
	}
	return s
}

func newDigest(t *testing.T) domain.Digest {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b[:])
	return domain.Digest("sha256:" + hex.EncodeToString(sum[:]))
}

func newRef(t *testing.T, d domain.Digest, repo, tag string) domain.ImageRef {
	t.Helper()
	r, err := domain.NewImageRef("123456789012", "us-east-1", repo, d.String(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const testTrace = "Root=1-65f0c0de-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"

// put writes a record through the domain lifecycle: each reference pushed in
// turn, then the scan completes (or fails for good) at done.
func (s *cliStack) put(t *testing.T, fail bool, done time.Time, refs ...domain.ImageRef) domain.ScanRecord {
	t.Helper()
	ctx := context.Background()
	d := refs[0].Digest
	start := done.Add(-2 * time.Minute)
	for i, ref := range refs {
		if err := s.scans.Update(ctx, d, func(sc *domain.Scan) error {
			_, err := sc.Claim(domain.Claim{Ref: ref, Owner: "scan-1", Now: start.Add(time.Duration(i) * time.Second), LeaseUntil: start.Add(15 * time.Minute), TraceHeader: testTrace})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.scans.Update(ctx, d, func(sc *domain.Scan) error {
		if fail {
			_, err := sc.Fail("scan-1", domain.Failure{Class: domain.FailureRegistryAuth, Reason: "pull denied"}, nil, 3, done, 7*24*time.Hour)
			return err
		}
		return sc.Complete("scan-1", domain.ScanResult{
			Summary: domain.Summary{Vulnerabilities: domain.Counts{Critical: 1, High: 2, Medium: 3}, Fixable: domain.Counts{Critical: 1}, Secrets: 1},
			Report:  domain.ReportLocation{Bucket: "results", Key: "reports/" + d.Hex() + ".json.gz"},
		}, done, 7*24*time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	sc, err := s.scans.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	r := sc.Record()
	r.Version--
	return r
}

// received drains the handler queues and decodes what they hold as the
// handlers do.
func (s *cliStack) received(t *testing.T) map[string][]events.ScanEvent {
	t.Helper()
	got := map[string][]events.ScanEvent{}
	for name, q := range s.queues {
		for {
			out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) == 0 {
				break
			}
			for _, m := range out.Messages {
				ev, err := events.DecodeBusMessage([]byte(aws.ToString(m.Body)))
				if err != nil {
					t.Fatalf("%s queue: %v", name, err)
				}
				got[name] = append(got[name], ev)
			}
		}
	}
	return got
}

// replayIDOf reads the replay ID from the first line of replay's output.
func replayIDOf(t *testing.T, stdout string) string {
	t.Helper()
	first, _, _ := strings.Cut(stdout, "\n")
	id, ok := strings.CutPrefix(first, "replay id: ")
	if !ok {
		t.Fatalf("first line %q does not give the replay ID", first)
	}
	id, _, _ = strings.Cut(id, " ")
	return id
}

func TestReplayUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{name: "no selection", args: nil, msg: "no selection"},
		{name: "all with more", args: []string{"--all", "--repository", "team/app"}, msg: "cannot be combined"},
		{name: "bad digest", args: []string{"--digest", "sha256:abc"}, msg: "--digest"},
		{name: "bad since", args: []string{"--since", "yesterday"}, msg: "--since"},
		{name: "inverted window", args: []string{"--since", "1h", "--until", "2h"}, msg: "not before"},
		{name: "archive by digest", args: []string{"--from-archive", "--since", "1h", "--digest", "sha256:" + strings.Repeat("a", 64)}, msg: "--since/--until only"},
		{name: "archive without since", args: []string{"--from-archive", "--until", "1h"}, msg: "needs --since"},
		{name: "resume with a selection", args: []string{"--resume", "x.json", "--all"}, msg: "--all cannot change it"},
		{name: "bad replay ID", args: []string{"--all", "--replay-id", "a b"}, msg: "--replay-id"},
		{name: "zero rate", args: []string{"--all", "--rate", "0"}, msg: "--rate"},
		{name: "stray argument", args: []string{"--all", "extra"}, msg: "unexpected argument"},
		{name: "unknown flag", args: []string{"--bogus"}, msg: "bogus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"replay"}, tc.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tc.msg) {
				t.Errorf("stderr %q does not say %q", stderr, tc.msg)
			}
		})
	}
	if code, _, stderr := runCLI(t, "replay", "-h"); code != exitOK || !strings.Contains(stderr, "--from-archive") {
		t.Errorf("-h: exit %d, %q", code, stderr)
	}
}

func TestParseReplayTime(t *testing.T) {
	now := time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "", want: time.Time{}},
		{in: "2024-05-01T10:00:00Z", want: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{in: "2024-05-01T10:00:00+02:00", want: time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)},
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "7d", want: now.Add(-7 * 24 * time.Hour)},
		{in: "-1h", bad: true},
		{in: "0d", bad: true},
		{in: "xd", bad: true},
		{in: "2024-05-01", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseReplayTime(tc.in, now)
			if (err != nil) != tc.bad {
				t.Fatalf("error %v, want bad %v", err, tc.bad)
			}
			if !tc.bad && !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// A dry run lists what would go where and sends nothing, keeping no
// checkpoint.
func TestReplayDryRunSendsNothing(t *testing.T) {
	t.Parallel()
	s := deployCLIStack(t)
	now := time.Now().UTC()
	ok := s.put(t, false, now, newRef(t, newDigest(t), "team/app", "v1"))
	bad := s.put(t, true, now, newRef(t, newDigest(t), "team/app", "v2"))
	checkpoint := filepath.Join(t.TempDir(), "cp.json")
	code, stdout, stderr := runCLI(t, "replay", "--stack", s.st.Name, "--digest", ok.Digest.String(), "--digest", bad.Digest.String(), "--dry-run", "--checkpoint", checkpoint)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	replayIDOf(t, stdout)
	for _, want := range []string{
		"dry run: nothing is sent",
		ok.Digest.String() + "  ScanCompleted  team/app      alert,archive,securityhub,tag",
		bad.Digest.String() + "  ScanFailed     team/app      alert",
		"would send 2 event(s)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if got := s.received(t); len(got) != 0 {
		t.Errorf("a dry run sent %v", got)
	}
	if _, err := os.Stat(checkpoint); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run wrote a checkpoint: %v", err)
	}
}

// --handler sends to that handler's queue only, under the printed replay ID,
// and the finished replay leaves no checkpoint behind.
func TestReplayToOneHandler(t *testing.T) {
	t.Parallel()
	s := deployCLIStack(t)
	rec := s.put(t, false, time.Now().UTC(), newRef(t, newDigest(t), "team/app", "v1"))
	checkpoint := filepath.Join(t.TempDir(), "cp.json")
	code, stdout, stderr := runCLI(t, "replay", "--stack", s.st.Name, "--digest", rec.Digest.String(), "--handler", "alert", "--checkpoint", checkpoint)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	id := replayIDOf(t, stdout)
	got := s.received(t)
	if len(got["alert"]) != 1 || len(got["archive"])+len(got["tag"]) != 0 {
		t.Fatalf("received %v, want one event in the alert queue only", got)
	}
	if ev := got["alert"][0]; ev.ReplayID != id || ev.Digest != rec.Digest {
		t.Errorf("alert got replay %q digest %s, want %q %s", ev.ReplayID, ev.Digest, id, rec.Digest)
	}
	if !strings.Contains(stderr, "sent 1/1") {
		t.Errorf("stderr %q shows no progress", stderr)
	}
	if _, err := os.Stat(checkpoint); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the checkpoint of a finished replay remains: %v", err)
	}

	code, _, stderr = runCLI(t, "replay", "--stack", s.st.Name, "--digest", newDigest(t).String(), "--checkpoint", checkpoint)
	if code != exitFailed || !strings.Contains(stderr, "no scan record for") {
		t.Errorf("a digest without a record: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "replay", "--stack", s.st.Name, "--all", "--handler", "nosuch", "--checkpoint", checkpoint)
	if code != exitUsage || !strings.Contains(stderr, "alert, archive, securityhub, tag") {
		t.Errorf("an unknown handler: exit %d, stderr %q", code, stderr)
	}
}

// An interrupted replay is resumed from its checkpoint by --resume: same
// replay ID, every record sent once in total.
func TestReplayResume(t *testing.T) {
	t.Parallel()
	s := deployCLIStack(t)
	now := time.Now().UTC()
	var digests []domain.Digest
	for i := range 5 {
		digests = append(digests, s.put(t, false, now.Add(-time.Duration(i)*time.Minute), newRef(t, newDigest(t), "team/app", "v1")).Digest)
	}
	// The first run, as the CLI would have started it, stopped by a signal
	// after its first page.
	checkpoint := filepath.Join(t.TempDir(), "cp.json")
	sel := replay.Selection{Repository: "team/app"}
	src, err := replay.NewSource(s.ddb, s.st.ScansTable, sel, 2)
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := s.st.Select([]string{"alert"})
	routes, err := replay.LoadRoutes(context.Background(), eventbridge.NewFromConfig(s.cfg), s.st, hs)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := replay.NewQueueSink(s.sqs, routes, s.st.Account, s.st.Region)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replay.Runner{Source: src, Sink: sink,
		Save:     func(cp replay.Checkpoint) error { return replay.SaveCheckpoint(checkpoint, cp) },
		Progress: func(p replay.Progress) { cancel() }}
	first, err := r.Run(ctx, replay.Checkpoint{ReplayID: "interrupted-1", Stack: s.st.Name, Selection: sel, Handlers: []string{"alert"}})
	if !errors.Is(err, context.Canceled) || first.Sent != 2 {
		t.Fatalf("first run: %+v, %v", first, err)
	}

	code, stdout, stderr := runCLI(t, "replay", "--resume", checkpoint)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "replay id: interrupted-1 (resumed from "+checkpoint+": 2 sent") {
		t.Errorf("stdout %q", stdout)
	}
	count := map[domain.Digest]int{}
	got := s.received(t)
	for _, ev := range got["alert"] {
		if ev.ReplayID != "interrupted-1" {
			t.Errorf("replay ID %q", ev.ReplayID)
		}
		count[ev.Digest]++
	}
	for _, d := range digests {
		if count[d] != 1 {
			t.Errorf("%s sent %d times in total, want once", d, count[d])
		}
	}
	if len(got["archive"])+len(got["tag"]) != 0 {
		t.Errorf("the resumed run reached other handlers: %v", got)
	}
	if _, err := os.Stat(checkpoint); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkpoint remains after completion: %v", err)
	}
}

// --from-archive asks EventBridge to replay the archive for the chosen
// handlers' rules; moto replays synchronously, marking the events with the
// replay's name.
func TestReplayFromArchive(t *testing.T) {
	t.Parallel()
	s := deployCLIStack(t)
	rec := s.put(t, false, time.Now().UTC().Add(-time.Minute), newRef(t, newDigest(t), "team/app", "v1"))
	live, err := events.NewScanEvent(rec)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := replay.NewBusSink(eventbridge.NewFromConfig(s.cfg), s.st.Bus)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Send(context.Background(), []events.ScanEvent{live}); err != nil {
		t.Fatal(err)
	}
	s.received(t)

	code, stdout, stderr := runCLI(t, "replay", "--stack", s.st.Name, "--from-archive", "--since", "1h", "--handler", "alert", "--replay-id", "arch-dry", "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "archive replay: ecrscan-arch-dry") || !strings.Contains(stdout, "rule/"+s.st.Bus+"/") || !strings.Contains(stdout, "not started") {
		t.Fatalf("dry run: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if got := s.received(t); len(got) != 0 {
		t.Errorf("a dry run replayed %v", got)
	}

	// The window ends now: the replay first waits for the archive to catch
	// up (a second here; EventBridge recommends ten minutes).
	code, stdout, stderr = runCLI(t, "replay", "--stack", s.st.Name, "--from-archive", "--since", "1h", "--handler", "alert", "--replay-id", "arch-1", "--archive-delay", "1s")
	if !strings.Contains(stderr, "for the archive to catch up") {
		t.Errorf("no word of waiting for the archive:\n%s", stderr)
	}
	if code != exitOK || !strings.Contains(stdout, "archive replay ecrscan-arch-1 COMPLETED") || !strings.Contains(stderr, "100%") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	got := s.received(t)
	if len(got["alert"]) != 1 || got["alert"][0].ReplayID != "archive:ecrscan-arch-1" || got["alert"][0].EventID != live.EventID {
		t.Errorf("alert received %+v", got["alert"])
	}
}

func TestReplayDefaults(t *testing.T) {
	o, err := parseReplayArgs([]string{"--all"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !replayIDRE.MatchString(o.replayID) || o.checkpoint != ".ecrscan-replay-"+o.replayID+".json" || o.stack == "" || o.rate != 50 {
		t.Errorf("defaults %+v", o)
	}
	if len(o.handlers) != 0 || o.fromArchive || o.dryRun {
		t.Errorf("options %+v", o)
	}
}
