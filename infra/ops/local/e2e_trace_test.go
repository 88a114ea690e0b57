package local_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/stack"
	"ecrscanner/infra/qscanner/qscannertest"
	"ecrscanner/infra/tracing"
	"ecrscanner/infra/tracing/tracingtest"
)

// scanSteps are the spans the scan function records under its own segment
// for a push that is scanned.
var scanSteps = []string{"decode", "inspect", "cache claim", "qscanner run", "report upload", "record write"}

// sdkNoise are phrases the X-Ray SDK logs with; none may reach a function's
// log above debug level.
var sdkNoise = []string{"X-Ray", "context missing", "no trace in context", "Emitter using address", "Suppressing AWS"}

// TestOneTracePerScan runs the pipeline as Lambda with active tracing runs
// it — every invocation gets a fresh sampled trace header, the functions
// send segments to a daemon — and checks that one push makes one trace: the
// scan function's steps under its segment, and a segment per downstream
// handler under that same segment, found through the header stored on the
// scan record.
func TestOneTracePerScan(t *testing.T) {
	daemon := tracingtest.Listen(t)
	ctx := context.Background()
	cfg := harness(t)
	reg, err := local.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	e := &e2e{t: t, ctx: ctx, cfg: cfg, reg: reg, ecr: ecr.NewFromConfig(cfg), runs: filepath.Join(t.TempDir(), "qscanner-runs.jsonl")}
	var noiseMu sync.Mutex
	var noise []string
	p, err := local.StartPipeline(ctx, cfg, local.PipelineOptions{
		StackName: mototest.UniqueName("trace"),
		Params:    map[string]string{"QualysAccessToken": "e2e-token"},
		BuildDir:  t.TempDir(),
		Env:       local.FunctionEnv(mototest.Endpoint(t)),
		FunctionEnv: map[string]map[string]string{
			"scan": {
				"QSCANNER_BIN":             qscannertest.BuildStandIn(t),
				"QSCANNER_STANDIN_FIXTURE": qscannertest.FixtureDir("basic"),
				"QSCANNER_STANDIN_MODE":    "default=ok",
				"QSCANNER_STANDIN_RECORD":  e.runs,
			},
			"tag": {"REGISTRY_ENDPOINT": reg.Endpoint()},
		},
		XRayDaemon: daemon.Addr(),
		RetryDelay: time.Second,
		IAM:        mototest.Server(t),
		OnResult: func(fn string, received, failed int, took time.Duration, err error) {
			if failed > 0 || err != nil {
				t.Logf("%s: %d of %d messages failed in %v: %v", fn, failed, received, took, err)
			}
		},
		Output: func(fn, line string) {
			if strings.Contains(line, `"level":"DEBUG"`) {
				return
			}
			for _, n := range sdkNoise {
				if strings.Contains(line, n) {
					noiseMu.Lock()
					noise = append(noise, fn+" | "+line)
					noiseMu.Unlock()
				}
			}
			if !strings.Contains(line, `"level":"INFO"`) {
				t.Logf("%s | %s", fn, line)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	e.p = p
	e.obs = p.Observer(cfg)
	downstream := downstreamHandlers(t)

	good, err := e.reg.PushSample(ctx, e.ecr, local.Account, local.Region, "trace/app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	e.push(good)
	var rec domain.ScanRecord
	e.eventually("scan record completed", 60*time.Second, func() bool {
		r, ok, _ := e.obs.Record(ctx, good.Digest)
		rec = r
		return ok && r.Status == domain.StatusCompleted
	})
	e.eventually("archive object", 30*time.Second, func() bool { return len(e.archiveKeys(good)) == 1 })
	e.eventually("repository tags", 30*time.Second, func() bool {
		tags, _ := e.obs.RepositoryTags(ctx, good)
		return tags["qualys:last-digest"] == good.Digest.String()
	})
	alerts := &alertLog{byRepo: map[string][]local.Alert{}}
	e.eventually("alert", 30*time.Second, func() bool { e.drainAlerts(alerts); return alerts.count(good.Repository) == 1 })

	// The record holds a full header whose parent is the scan's claim
	// subsegment.
	if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$`).MatchString(rec.TraceHeader) {
		t.Fatalf("record trace header %q, want Root=…;Parent=…;Sampled=1", rec.TraceHeader)
	}
	hdr, err := tracing.ParseHeader(rec.TraceHeader)
	if err != nil {
		t.Fatal(err)
	}

	docs := daemon.Wait(t, 60*time.Second, "the scan's steps and a segment per downstream handler", func(docs []tracingtest.Document) bool {
		have := map[string]bool{}
		for _, d := range tracingtest.InTrace(docs, hdr.TraceID) {
			if !d.InProgress {
				have[d.Name] = true
			}
		}
		for _, n := range append(append([]string(nil), scanSteps...), downstream...) {
			if !have[n] {
				return false
			}
		}
		return true
	})
	trace := tracingtest.InTrace(docs, hdr.TraceID)
	tree := tracingtest.Tree(trace)
	t.Logf("trace of one scan (%s):\n%s", good.Display(), tree)
	if out := os.Getenv("TRACE_TREE_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(tree), 0o644); err != nil {
			t.Errorf("write TRACE_TREE_OUT: %v", err)
		}
	}
	if errs := daemon.Errors(); len(errs) > 0 {
		t.Errorf("undecodable datagrams: %v", errs)
	}

	// One trace: everything about this digest is in it, except each
	// downstream invocation's own subsegment, which sits in the trace Lambda
	// gave that invocation and names the scan by annotation.
	own := map[string]int{}
	for _, d := range docs {
		if d.Annotation("image_digest") != good.Digest.String() || d.TraceID == hdr.TraceID {
			continue
		}
		if handler := d.Annotation("handler"); d.Type == "subsegment" && handler != "scan" && d.Annotation("scan_id") == rec.ScanID {
			own[handler]++
			continue
		}
		t.Errorf("%s (handler %s) is in trace %s, not the scan's %s", d.Name, d.Annotation("handler"), d.TraceID, hdr.TraceID)
	}
	for _, name := range downstream {
		if own[name] == 0 {
			t.Errorf("no %s subsegment in its invocation's own trace naming scan %s", name, rec.ScanID)
		}
	}

	// The scan function's steps hang under its own segment, annotated with
	// what they are about; the stored header's Parent is its claim step.
	steps := map[string]tracingtest.Document{}
	for _, d := range trace {
		if d.Type == "subsegment" && d.Annotation("handler") == "scan" {
			if _, dup := steps[d.Name]; dup {
				t.Errorf("scan step %s recorded twice", d.Name)
			}
			steps[d.Name] = d
		}
	}
	function := steps["cache claim"].ParentID
	if steps["cache claim"].ID != hdr.ParentID {
		t.Errorf("stored header's parent %s is not the cache claim step %s", hdr.ParentID, steps["cache claim"].ID)
	}
	for name, d := range steps {
		if d.ParentID != function {
			t.Errorf("scan step %s under %s, want the function segment %s", name, d.ParentID, function)
		}
	}
	for _, name := range scanSteps {
		d, ok := steps[name]
		if !ok {
			t.Errorf("no scan step %q", name)
			continue
		}
		want := map[string]string{"handler": "scan", "image_digest": good.Digest.String(), "repository": good.Repository}
		if name != "decode" && name != "inspect" {
			want["scan_id"] = rec.ScanID
		}
		checkAnnotations(t, d, want)
		if d.Fault || d.Error {
			t.Errorf("scan step %s marked failed: %s", name, d.Cause)
		}
	}
	run := steps["qscanner run"]
	token, ok := run.Find("token fetch")
	if !ok {
		t.Errorf("no token fetch inside the qscanner run")
	}
	for step, op := range map[string]string{"cache claim": "PutItem", "report upload": "PutObject", "record write": "PutItem", "inspect": ""} {
		if !hasCall(steps[step], op) {
			t.Errorf("scan step %s has no AWS call %s inside it", step, op)
		}
	}
	if !hasCall(token, "GetSecretValue") {
		t.Errorf("token fetch has no Secrets Manager call inside it")
	}

	// Each downstream handler's segment sits under the claim step, for the
	// ScanCompleted event.
	for _, name := range downstream {
		var segs []tracingtest.Document
		for _, d := range trace {
			if d.Type == "" && d.Name == name {
				segs = append(segs, d)
			}
		}
		if len(segs) == 0 {
			t.Errorf("no %s segment in the trace", name)
			continue
		}
		for _, d := range segs {
			if d.ParentID != hdr.ParentID {
				t.Errorf("%s segment under %s, want the scan's claim step %s", name, d.ParentID, hdr.ParentID)
			}
			checkAnnotations(t, d, map[string]string{
				"handler": name, "image_digest": good.Digest.String(), "repository": good.Repository,
				"scan_id": rec.ScanID, "event_id": rec.Event.ID,
			})
			if d.Fault || d.Error {
				t.Errorf("%s segment marked failed: %s", name, d.Cause)
			}
			if !hasCall(d, "") {
				t.Errorf("%s segment has no AWS call inside it", name)
			}
		}
	}

	noiseMu.Lock()
	defer noiseMu.Unlock()
	for _, line := range noise {
		t.Errorf("X-Ray SDK logged above debug: %s", line)
	}
}

// downstreamHandlers names the template's handlers fed by a queue other than
// the scan function's: the image-scans bus's handlers, whatever they are.
func downstreamHandlers(t *testing.T) []string {
	t.Helper()
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}
	for _, f := range tmpl.Functions() {
		dirs[f.LogicalID] = f.HandlerDir
	}
	var out []string
	for _, m := range tmpl.EventSourceMappings() {
		if d := dirs[m.Function]; d != "" && d != "scan" {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	if len(out) < 3 {
		t.Fatalf("downstream handlers %v; want at least archive, tag and alert", out)
	}
	return out
}

func checkAnnotations(t *testing.T, d tracingtest.Document, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := d.Annotation(k); got != v {
			t.Errorf("%s: annotation %s = %q, want %q", d.Name, k, got, v)
		}
	}
}

// hasCall reports whether an instrumented AWS call (of operation op, or any
// if op is "") is nested inside d.
func hasCall(d tracingtest.Document, op string) bool {
	found := false
	d.Walk(func(x tracingtest.Document, depth int) {
		if depth > 0 && x.Namespace == "aws" && (op == "" || x.Operation() == op) {
			found = true
		}
	})
	return found
}
