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
	if info, err := os.Stat(eventFile); eventFile != "" && err == nil && info.IsDir() {
		return r.runSamples(ctx, eventFile, timeout)
	}
	setup, err := r.readSetup(eventFile)
	if err != nil {
		return err
	}
	done, err := r.chooseQScanner(ctx, setup)
	if err != nil {
		return err
	}
	defer done()
	st, err := r.startStack(ctx, setup)
	if err != nil {
		return err
	}
	defer st.stop()
	return r.pushAndWatch(ctx, st, filepath.Base(eventFile), setup.custom, timeout, keep)
}

// runSetup is what the local stack is deployed with and what it is sent.
type runSetup struct {
	params      map[string]string
	functionEnv map[string]map[string]string
	// custom is the event to send; nil sends a sample push.
	custom []byte
}

// readSetup reads the event to send, if one is given: a CloudTrail event
// needs the stack deployed with that trigger.
func (r *localRun) readSetup(eventFile string) (runSetup, error) {
	s := r.baseSetup()
	if eventFile == "" {
		return s, nil
	}
	var err error
	if s.custom, err = os.ReadFile(eventFile); err != nil {
		return s, err
	}
	if strings.Contains(string(s.custom), `"AWS API Call via CloudTrail"`) {
		// The template routes CloudTrail PutImage events only when the
		// stack is deployed with that trigger.
		s.params["ScanTrigger"] = "cloudtrail"
		fmt.Fprintln(r.out, "  trigger   CloudTrail PutImage (the stack is deployed with ScanTrigger=cloudtrail for this event)")
	}
	return s, nil
}

// baseSetup is the stack's set-up before any event is read.
func (r *localRun) baseSetup() runSetup {
	s := runSetup{
		params:      map[string]string{"QualysAccessToken": "local-run-token"},
		functionEnv: map[string]map[string]string{"scan": {}, "tag": {}},
	}
	orgParams(s.params) // run_local_org.go: the stack is an organization's hub
	return s
}

// chooseQScanner gives the scan function the real QScanner when
// QSCANNER_BIN names it, else builds the stand-in. done removes what it
// built.
func (r *localRun) chooseQScanner(ctx context.Context, s runSetup) (done func(), err error) {
	if bin := os.Getenv("QSCANNER_BIN"); bin != "" {
		pod, token := os.Getenv("QUALYS_POD"), os.Getenv("QUALYS_ACCESS_TOKEN")
		if pod == "" || token == "" {
			return nil, errors.New("QSCANNER_BIN is set: QUALYS_POD and QUALYS_ACCESS_TOKEN are needed too")
		}
		if s.custom == nil {
			return nil, errors.New("QSCANNER_BIN is set: name a real image with --event (make run EVENT=push.json); the sample image exists only on this machine, where QScanner cannot pull it")
		}
		s.params["QualysPod"], s.params["QualysAccessToken"] = pod, token
		s.functionEnv["scan"]["QSCANNER_BIN"] = bin
		fmt.Fprintf(r.out, "  QScanner  %s (QSCANNER_BIN; pod %s). It pulls the image itself: give it registry\n", bin, pod)
		fmt.Fprintln(r.out, "            credentials with QSCANNER_REGISTRY_USERNAME/PASSWORD (for ECR: AWS and `aws ecr get-login-password`).")
		return func() {}, nil
	}
	r.say("building the QScanner stand-in …")
	dir, err := os.MkdirTemp("", "ecrscan-standin-")
	if err != nil {
		return nil, err
	}
	done = func() { os.RemoveAll(dir) }
	bin, err := buildStandIn(ctx, dir)
	if err != nil {
		done()
		return nil, err
	}
	s.functionEnv["scan"]["QSCANNER_BIN"] = bin
	rescanDemoEnv(s, dir)
	fmt.Fprintln(r.out, "  QScanner  STAND-IN (testdata/qscanner-standin) — a test tool, NOT Qualys QScanner: its findings are canned.")
	fmt.Fprintln(r.out, "            Set QSCANNER_BIN, QUALYS_POD and QUALYS_ACCESS_TOKEN to run the real one.")
	return done, nil
}

// localStack is what a local run starts: moto, the registry standing in
// for ECR's, and the stack running on them.
type localStack struct {
	cfg      aws.Config
	reg      *local.Registry
	pipeline *local.Pipeline
	// stops undo the starts, in reverse.
	stops []func()
}

func (st *localStack) stop() {
	for i := len(st.stops) - 1; i >= 0; i-- {
		st.stops[i]()
	}
}

// startStack starts moto and the registry, then builds the functions,
// deploys the template into moto and starts the functions, the Pipe and
// the pollers.
func (r *localRun) startStack(ctx context.Context, s runSetup) (_ *localStack, err error) {
	st := &localStack{}
	defer func() {
		if err != nil {
			st.stop()
		}
	}()
	moto, err := motoserver.StartMoto(ctx, motoserver.MotoOptions{})
	if err != nil {
		return nil, err
	}
	st.stops = append(st.stops, func() { moto.Stop() })
	fmt.Fprintf(r.out, "  AWS       moto at %s\n", moto.Endpoint())
	if st.reg, err = local.StartRegistry(); err != nil {
		return nil, err
	}
	st.stops = append(st.stops, func() { st.reg.Close() })
	s.functionEnv["tag"]["REGISTRY_ENDPOINT"] = st.reg.Endpoint()
	fmt.Fprintf(r.out, "  registry  in-memory OCI registry at %s (stands in for the ECR registry endpoint)\n", st.reg.Host)
	base, err := local.Config(ctx, moto.Endpoint())
	if err != nil {
		return nil, err
	}
	// IAM is enforced once the stack is deployed: this run sets up and
	// watches as an admin user, the functions and the Pipe run as their roles.
	if st.cfg, err = local.AdminConfig(ctx, moto, base, "ecrscan-local-harness"); err != nil {
		return nil, err
	}
	buildDir, err := os.MkdirTemp("", "ecrscan-run-local-")
	if err != nil {
		return nil, err
	}
	st.stops = append(st.stops, func() { os.RemoveAll(buildDir) })
	r.say("building the functions and deploying infra/ops/stack/template.yaml into moto …")
	opts := r.pipelineOptions(s, buildDir, moto.Endpoint())
	opts.IAM = moto
	if opts.DropAction = os.Getenv(local.DropActionEnv); opts.DropAction != "" {
		fmt.Fprintf(r.out, "  IAM       %s=%s: the stack is deployed without that action; the run should fail where it is needed\n", local.DropActionEnv, opts.DropAction)
	}
	if st.pipeline, err = local.StartPipeline(ctx, st.cfg, opts); err != nil {
		return nil, err
	}
	st.stops = append(st.stops, st.pipeline.Stop)
	r.say("stack %q running: %d functions, the Pipe and %d queue pollers, each with its own role's credentials (IAM enforced)", st.pipeline.Deployment.Name, len(st.pipeline.Functions), len(st.pipeline.Deployment.Template.EventSourceMappings()))
	return st, nil
}

func (r *localRun) pipelineOptions(s runSetup, buildDir, endpoint string) local.PipelineOptions {
	return local.PipelineOptions{
		StackName:   "ecrscan-local",
		Params:      s.params,
		BuildDir:    buildDir,
		Env:         local.FunctionEnv(endpoint),
		FunctionEnv: s.functionEnv,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Output:      r.functionLog,
		OnEvent:     func(detailType string, detail []byte) { r.say("%s", busLine(detailType, detail)) },
		OnResult:    r.invoked,
	}
}

// busLine describes an event the Pipe put on the bus. Every event has the
// one detail-type (events.DetailType), so what tells them apart is the
// detail's eventType; a rejection also says why.
func busLine(detailType string, detail []byte) string {
	var ev struct {
		EventID   string           `json:"eventId"`
		EventType domain.EventType `json:"eventType"`
		Reason    string           `json:"reason"`
	}
	_ = json.Unmarshal(detail, &ev)
	if ev.EventType == events.EventRecordRejected {
		return fmt.Sprintf("bus      %s on the image-scans bus (%q): %s", ev.EventType, detailType, ev.Reason)
	}
	return fmt.Sprintf("bus      %s on the image-scans bus (%q, event %s)", ev.EventType, detailType, short(ev.EventID))
}

// pushAndWatch sends the push (or the custom event) and shows each effect
// as it appears, then the timings.
func (r *localRun) pushAndWatch(ctx context.Context, st *localStack, name string, custom []byte, timeout time.Duration, keep bool) error {
	var s sample
	if custom != nil {
		var err error
		rules, err := scanRules(st)
		if err != nil {
			return err
		}
		if s, err = expectSample(rules, name, custom); err != nil {
			return err
		}
		if s.want != wantScanned {
			// Sent as AWS would take it: the bus, the rules and the scan
			// function are what refuse, skip or reject it, and the run
			// shows that they do.
			r.say("event    %s, as AWS would treat it: %s", s.want, s.why)
			return r.settleSamples(ctx, st, []sample{s}, timeout)
		}
	}
	ref, body, err := r.prepareEvent(ctx, st.cfg, st.reg, custom)
	if err != nil {
		return err
	}
	r.pushed = time.Now()
	r.say("push     %s → %s (an ECR push event on the default bus)", ref.Display(), ref.Name())
	if err := putEvent(ctx, st.cfg, body); err != nil {
		return err
	}
	seen := r.watch(ctx, st.cfg, st.pipeline, st.reg, ref, timeout, custom != nil)
	r.summary(seen)
	if keep {
		fmt.Fprintln(r.out, "stack kept running; press Ctrl-C to stop")
		<-ctx.Done()
	}
	if custom == nil {
		s = sample{name: "the sample push", want: wantScanned, delivered: body}
	}
	// Where everything ended, dead letters included, is shown either way.
	settled := r.settleSamples(ctx, st, []sample{s}, 0)
	if custom == nil && settled == nil && seen.complete() { // forced rescan and sweep: run_local_rescan.go
		settled = r.demoRescan(ctx, st, ref, timeout)
	}
	if custom == nil && settled == nil { // suppressions, the gate and the alert channels: run_local_suppress.go
		settled = r.demoSuppression(ctx, st, ref, timeout)
	}
	if custom == nil {
		settled = errors.Join(settled, r.orgDemo(ctx, st)) // run_local_org.go
	}
	if !seen.complete() {
		return errors.Join(fmt.Errorf("not every effect appeared within %v: %s", timeout, seen.missing()), settled)
	}
	return settled
}

// settleSamples sends the samples that are not yet sent (sendFirst is the
// timeout to wait for the queues then; zero when they were sent and
// watched), and checks where each ended and every dead letter.
func (r *localRun) settleSamples(ctx context.Context, st *localStack, samples []sample, sendFirst time.Duration) error {
	if sendFirst > 0 {
		for _, s := range samples {
			if err := r.sendSample(ctx, st, s); err != nil {
				return err
			}
		}
		r.pushed = time.Now()
	}
	if err := r.awaitQuiet(ctx, st, max(sendFirst, 30*time.Second)); err != nil {
		return err
	}
	fmt.Fprintln(r.out)
	problems, err := r.checkSamples(ctx, st, samples)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("not as expected:\n  %s", strings.Join(problems, "\n  "))
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

// buildStandIn compiles the QScanner stand-in (a test tool) for the local
// run into dir.
func buildStandIn(ctx context.Context, dir string) (string, error) {
	if err := local.Build(ctx, dir, "./testdata/qscanner-standin"); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "qscanner")
	return bin, os.Rename(filepath.Join(dir, "qscanner-standin"), bin)
}
