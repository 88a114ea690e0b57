package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/motoserver"
)

func init() {
	register("run-local", command{
		usage: "run the whole pipeline on this machine against moto (make run)",
		run:   runLocal,
	})
}

// runLocal is `make run`: moto as the embedded AWS, the project's template
// deployed into it, the real function binaries invoked the way Lambda
// invokes them, the Pipe played from the template, one push sent, and each
// effect shown as it happens.
func runLocal(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	eventFile := fs.String("event", "", "send this EventBridge event (JSON file) instead of a sample push")
	verbose := fs.Bool("v", false, "show every function log line, not only warnings and errors")
	timeout := fs.Duration("timeout", 90*time.Second, "give up waiting for the effects after this long")
	keep := fs.Bool("keep", false, "keep the stack running after the effects are shown, until interrupted")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &localRun{out: stdout, verbose: *verbose, start: time.Now()}
	if err := r.run(ctx, *eventFile, *timeout, *keep); err != nil {
		fmt.Fprintf(stderr, "ecrscan run-local: %v\n", err)
		return 1
	}
	return 0
}

type localRun struct {
	out     io.Writer
	verbose bool
	start   time.Time
	pushed  time.Time
	mu      sync.Mutex
	timings map[string][]time.Duration
}

func (r *localRun) say(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	since := r.start
	if !r.pushed.IsZero() {
		since = r.pushed
	}
	fmt.Fprintf(r.out, "[%6.2fs] %s\n", time.Since(since).Seconds(), fmt.Sprintf(format, args...))
}

func (r *localRun) run(ctx context.Context, eventFile string, timeout time.Duration, keep bool) error {
	fmt.Fprintln(r.out, "ecrscan run-local: the whole pipeline on this machine (AWS is moto on loopback; nothing leaves this machine)")

	functionEnv := map[string]map[string]string{"scan": {}, "tag": {}}
	params := map[string]string{"QualysAccessToken": "local-run-token"}
	var custom []byte
	if eventFile != "" {
		var err error
		if custom, err = os.ReadFile(eventFile); err != nil {
			return err
		}
		if strings.Contains(string(custom), `"AWS API Call via CloudTrail"`) {
			// The template routes CloudTrail PutImage events only when the
			// stack is deployed with that trigger.
			params["ScanTrigger"] = "cloudtrail"
			fmt.Fprintln(r.out, "  trigger   CloudTrail PutImage (the stack is deployed with ScanTrigger=cloudtrail for this event)")
		}
	}
	if bin := os.Getenv("QSCANNER_BIN"); bin != "" {
		pod, token := os.Getenv("QUALYS_POD"), os.Getenv("QUALYS_ACCESS_TOKEN")
		if pod == "" || token == "" {
			return errors.New("QSCANNER_BIN is set: QUALYS_POD and QUALYS_ACCESS_TOKEN are needed too")
		}
		if custom == nil {
			return errors.New("QSCANNER_BIN is set: name a real image with --event (make run EVENT=push.json); the sample image exists only on this machine, where QScanner cannot pull it")
		}
		params["QualysPod"], params["QualysAccessToken"] = pod, token
		functionEnv["scan"]["QSCANNER_BIN"] = bin
		fmt.Fprintf(r.out, "  QScanner  %s (QSCANNER_BIN; pod %s). It pulls the image itself: give it registry\n", bin, pod)
		fmt.Fprintln(r.out, "            credentials with QSCANNER_REGISTRY_USERNAME/PASSWORD (for ECR: AWS and `aws ecr get-login-password`).")
	} else {
		r.say("building the QScanner stand-in …")
		standInDir, err := os.MkdirTemp("", "ecrscan-standin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(standInDir)
		bin, err := buildStandIn(ctx, standInDir)
		if err != nil {
			return err
		}
		functionEnv["scan"]["QSCANNER_BIN"] = bin
		fmt.Fprintln(r.out, "  QScanner  STAND-IN (testdata/qscanner-standin) — a test tool, NOT Qualys QScanner: its findings are canned.")
		fmt.Fprintln(r.out, "            Set QSCANNER_BIN, QUALYS_POD and QUALYS_ACCESS_TOKEN to run the real one.")
	}

	moto, err := motoserver.StartMoto(ctx, motoserver.MotoOptions{})
	if err != nil {
		return err
	}
	defer moto.Stop()
	fmt.Fprintf(r.out, "  AWS       moto at %s\n", moto.Endpoint())
	reg, err := local.StartRegistry()
	if err != nil {
		return err
	}
	defer reg.Close()
	functionEnv["tag"]["REGISTRY_ENDPOINT"] = reg.Endpoint()
	fmt.Fprintf(r.out, "  registry  in-memory OCI registry at %s (stands in for the ECR registry endpoint)\n", reg.Host)

	cfg, err := local.Config(ctx, moto.Endpoint())
	if err != nil {
		return err
	}
	buildDir, err := os.MkdirTemp("", "ecrscan-run-local-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(buildDir)

	r.say("building the functions and deploying infra/ops/stack/template.yaml into moto …")
	p, err := local.StartPipeline(ctx, cfg, local.PipelineOptions{
		StackName:   "ecrscan-local",
		Params:      params,
		BuildDir:    buildDir,
		Env:         local.FunctionEnv(moto.Endpoint()),
		FunctionEnv: functionEnv,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Output:      r.functionLog,
		OnEvent: func(detailType string, detail []byte) {
			var ev events.ScanEvent
			_ = json.Unmarshal(detail, &ev)
			r.say("bus      %q on the image-scans bus (event %s)", detailType, short(ev.EventID))
		},
		OnResult: r.invoked,
	})
	if err != nil {
		return err
	}
	defer p.Stop()
	r.say("stack %q running: %d functions, the Pipe and %d queue pollers", p.Deployment.Name, len(p.Functions), len(p.Deployment.Template.EventSourceMappings()))

	ref, body, err := r.prepareEvent(ctx, cfg, reg, custom)
	if err != nil {
		return err
	}
	r.pushed = time.Now()
	if _, derr := events.DecodePush(body); derr != nil {
		// Sent anyway: the rules and the scan function are what skip or
		// reject it, and the run shows that they do.
		r.say("event    not scannable: %v", derr)
		if err := putEvent(ctx, cfg, body); err != nil {
			return err
		}
		r.awaitScanInvocation(ctx, 15*time.Second)
		fmt.Fprintln(r.out, "\nthe event was not scanned, as expected for it; nothing else to show")
		return nil
	}
	r.say("push     %s → %s (an ECR push event on the default bus)", ref.Display(), ref.Name())
	if err := putEvent(ctx, cfg, body); err != nil {
		return err
	}
	seen := r.watch(ctx, cfg, p, reg, ref, timeout, custom != nil)
	r.summary(seen)
	if keep {
		fmt.Fprintln(r.out, "stack kept running; press Ctrl-C to stop")
		<-ctx.Done()
	}
	if !seen.complete() {
		return fmt.Errorf("not every effect appeared within %v: %s", timeout, seen.missing())
	}
	return nil
}

// prepareEvent makes the pushed image exist, in moto's ECR and in the local
// registry, and returns the push event to send.
func (r *localRun) prepareEvent(ctx context.Context, cfg aws.Config, reg *local.Registry, body []byte) (domain.ImageRef, []byte, error) {
	client := ecr.NewFromConfig(cfg)
	if body == nil {
		ref, err := reg.PushSample(ctx, client, local.Account, local.Region, "demo/app", "v1")
		if err != nil {
			return domain.ImageRef{}, nil, err
		}
		return ref, local.PushEvent(ref, time.Now()), nil
	}
	req, err := events.DecodePush(body)
	if err != nil {
		return domain.ImageRef{}, body, nil
	}
	// The event names an image this machine has never seen: record it in
	// moto's ECR under the event's digest, so the scan function finds it.
	if err := local.RecordImage(ctx, client, req.Ref); err != nil {
		return domain.ImageRef{}, nil, err
	}
	return req.Ref, body, nil
}

func putEvent(ctx context.Context, cfg aws.Config, body []byte) error {
	var env struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("event is not an EventBridge event: %w", err)
	}
	out, err := eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(env.Source), DetailType: aws.String(env.DetailType), Detail: aws.String(string(env.Detail)), Resources: env.Resources,
	}}})
	if err != nil {
		return fmt.Errorf("put push event: %w", err)
	}
	if out.FailedEntryCount > 0 {
		return fmt.Errorf("put push event: %s", aws.ToString(out.Entries[0].ErrorMessage))
	}
	return nil
}

// effects records when each effect was first seen.
type effects struct {
	want   map[string]bool
	seenAt map[string]time.Duration
}

func (e effects) complete() bool { return len(e.missing()) == 0 }

func (e effects) missing() string {
	var m []string
	for k := range e.want {
		if _, ok := e.seenAt[k]; !ok {
			m = append(m, k)
		}
	}
	sort.Strings(m)
	return strings.Join(m, ", ")
}

func (r *localRun) watch(ctx context.Context, cfg aws.Config, p *local.Pipeline, reg *local.Registry, ref domain.ImageRef, timeout time.Duration, customEvent bool) effects {
	obs := p.Observer(cfg)
	e := effects{want: map[string]bool{"record": true, "archive": true, "tags": true, "referrer": !customEvent, "alert": true}, seenAt: map[string]time.Duration{}}
	if p.Functions["SecurityHubFunction"] != nil {
		e.want["findings"] = true
	}
	if customEvent {
		delete(e.want, "referrer")
		r.say("note: the referrer is not awaited for a custom event (its image is not in the local registry)")
	}
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var status domain.Status
	for !e.complete() {
		select {
		case <-ctx.Done():
			return e
		case <-deadline:
			return e
		case <-tick.C:
		}
		mark := func(k string) { e.seenAt[k] = time.Since(r.pushed) }
		if rec, ok, _ := obs.Record(ctx, ref.Digest); ok && rec.Status != status && rec.Status != domain.StatusScanning {
			status = rec.Status
			mark("record")
			r.say("record   %s in the scans table: %s", rec.Status, describeRecord(rec))
			if rec.Status == domain.StatusFailed {
				// A failed scan archives and tags nothing; only its alert is due.
				delete(e.want, "archive")
				delete(e.want, "tags")
				delete(e.want, "referrer")
				delete(e.want, "findings")
			}
		}
		if _, ok := e.seenAt["archive"]; !ok && e.want["archive"] {
			if bucket, keys, _ := obs.ArchiveObjects(ctx, ref.Repository, ref.Digest); len(keys) > 0 {
				mark("archive")
				r.say("archive  s3://%s/%s", bucket, keys[0])
			}
		}
		if _, ok := e.seenAt["tags"]; !ok && e.want["tags"] {
			if tags, _ := obs.RepositoryTags(ctx, ref); tags["qualys:last-digest"] == ref.Digest.String() {
				mark("tags")
				r.say("tags     %s: %s", ref.Repository, formatTags(tags))
			}
		}
		if _, ok := e.seenAt["referrer"]; !ok && e.want["referrer"] {
			if refs, err := reg.Referrers(ref); err == nil && len(refs) > 0 {
				mark("referrer")
				r.say("referrer %s attached to %s@sha256:%s (OCI 1.1 subject)", refs[0].Digest, ref.Repository, ref.Digest.Short())
			}
		}
		if _, ok := e.seenAt["findings"]; !ok && e.want["findings"] {
			if n, _ := obs.SecurityHubFindings(ctx, ref); n > 0 {
				mark("findings")
				r.say("findings %d Security Hub findings (ASFF) for %s", n, ref.Display())
			}
		}
		if alerts, _ := obs.Alerts(ctx); len(alerts) > 0 {
			mark("alert")
			for _, a := range alerts {
				r.say("alert    SNS %q severity=%s kind=%s\n%s", a.Subject, a.Attributes["severity"], a.Attributes["kind"], indent(a.Message))
			}
		}
	}
	return e
}

func (r *localRun) summary(e effects) {
	var last time.Duration
	for _, d := range e.seenAt {
		last = max(last, d)
	}
	fmt.Fprintf(r.out, "\npush → all effects: %.2fs\n", last.Seconds())
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.timings))
	for n := range r.timings {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ts := r.timings[n]
		var total time.Duration
		for _, t := range ts {
			total += t
		}
		fmt.Fprintf(r.out, "  %-20s %d invocation(s), %.0f ms each on average\n", n, len(ts), float64(total.Milliseconds())/float64(len(ts)))
	}
}

// awaitScanInvocation waits until the scan function has handled a message,
// or the time is up.
func (r *localRun) awaitScanInvocation(ctx context.Context, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.mu.Lock()
		n := len(r.timings["ScanFunction"])
		r.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.say("no rule of the stack routed the event to the scan queue")
}

func (r *localRun) invoked(function string, received, failed int, took time.Duration, err error) {
	r.mu.Lock()
	if r.timings == nil {
		r.timings = map[string][]time.Duration{}
	}
	r.timings[function] = append(r.timings[function], took)
	r.mu.Unlock()
	switch {
	case err != nil:
		r.say("invoke   %s: %d message(s) in %d ms: %v", function, received, took.Milliseconds(), err)
	case failed > 0:
		r.say("invoke   %s: %d message(s) in %d ms, %d failed (retried by SQS)", function, received, took.Milliseconds(), failed)
	default:
		r.say("invoke   %s: %d message(s) in %d ms", function, received, took.Milliseconds())
	}
}

// functionLog shows a function's log line: all of them with -v, otherwise
// warnings and errors only.
func (r *localRun) functionLog(function, line string) {
	var rec map[string]any
	if json.Unmarshal([]byte(line), &rec) != nil {
		if r.verbose {
			r.say("  %s | %s", function, line)
		}
		return
	}
	level, _ := rec["level"].(string)
	if !r.verbose && level != "WARN" && level != "ERROR" {
		return
	}
	msg, _ := rec["msg"].(string)
	var kv []string
	for k, v := range rec {
		switch k {
		case "time", "level", "msg", "requestId", "functionArn", "xrayTraceId":
			continue
		}
		kv = append(kv, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(kv)
	r.say("  %s | %s %s %s", function, level, msg, strings.Join(kv, " "))
}

func describeRecord(rec domain.ScanRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scan %s, event %s", short(rec.ScanID), rec.Event.Type)
	if s := rec.Summary; s != nil {
		v := s.Vulnerabilities
		fmt.Fprintf(&b, ", %d vulnerabilities (critical %d, high %d, medium %d, low %d), %d secrets", v.Total(), v.Critical, v.High, v.Medium, v.Low, s.Secrets)
	}
	if rec.Failure != nil {
		fmt.Fprintf(&b, ", failure %s", rec.Failure.Error())
	}
	if rec.Report != nil {
		fmt.Fprintf(&b, ", report s3://%s/%s", rec.Report.Bucket, rec.Report.Key)
	}
	return b.String()
}

func formatTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		if strings.HasPrefix(k, "qualys:") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + tags[k]
	}
	return strings.Join(parts, " ")
}

func indent(s string) string {
	return "           | " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n           | ")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// buildStandIn compiles the QScanner stand-in (a test tool) for the local
// run into dir.
func buildStandIn(ctx context.Context, dir string) (string, error) {
	if err := local.Build(ctx, dir, "./testdata/qscanner-standin"); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "qscanner")
	return bin, os.Rename(filepath.Join(dir, "qscanner-standin"), bin)
}
