package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/ops/local"
)

// Options configure a run.
type Options struct {
	Seed uint64
	Size Size
	// Config reaches moto directly (the harness's own view); Endpoint is
	// moto's URL, which the proxy fronts for the functions.
	Config   aws.Config
	Endpoint string
	// Prefix makes the run's names unique on a shared moto.
	Prefix   string
	BuildDir string
	// QScanner is the stand-in's path (qscannertest.BuildStandIn).
	QScanner string
	Rates    Rates
	// Quiet is how long every queue must stay empty to call the run
	// quiescent; Bound caps the wait for it.
	Quiet, Bound time.Duration
	Logger       *slog.Logger
	// Output receives the functions' log lines.
	Output func(function, line string)
}

// Timing of a run: short function timeouts so that a timeout or a hang
// costs seconds, and the retry settings scaled with them (see start).
const (
	// handlerTimeout is long enough for a batch of ten Security Hub events
	// on a loaded moto (its GetFindings reads every finding).
	handlerTimeout = 20 * time.Second
	scanTimeout    = 30 * time.Second
	// scanReserve leaves QScanner 4s of the scan's 30s: a hang ends quickly.
	scanReserve = 26 * time.Second
	// idempotencyLease outlives a handler invocation (handlerTimeout), as
	// the deployed 5 minutes outlive the deployed 60s.
	idempotencyLease = 22 * time.Second
	// retryDelay stands in for the handler queues' visibility timeout: five
	// receives span more than the lease, as 5×360s do in AWS, so a retry of
	// a killed invocation's event finds its marker expired before the
	// message runs out of receives.
	retryDelay = 6 * time.Second
	// faultDelay holds a request past a handler's timeout.
	faultDelay = handlerTimeout + 2*time.Second
)

// run is one run's moving parts.
type run struct {
	opts    Options
	plan    *Plan
	p       *local.Pipeline
	obs     *local.Observer
	proxy   *Proxy
	digests []domain.Digest
	refs    []domain.ImageRef
	alerts  *alertLog
}

// Run executes the plan for opts.Seed against moto and checks the
// invariant. The error is for a run that could not be carried out; a broken
// invariant is in the Result (Result.Violations).
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	plan, err := NewPlan(opts.Seed, opts.Size, opts.Prefix)
	if err != nil {
		return nil, err
	}
	r := &run{opts: opts, plan: plan, alerts: &alertLog{}}
	reg, err := local.StartRegistry()
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	if r.digests, r.refs, err = publish(ctx, plan, reg, ecr.NewFromConfig(opts.Config)); err != nil {
		return nil, err
	}
	r.proxy, err = StartProxy(opts.Endpoint, opts.Seed, opts.Rates, faultDelay, opts.Logger)
	if err != nil {
		return nil, err
	}
	defer r.proxy.Close()
	if err := r.start(ctx, reg); err != nil {
		return nil, err
	}
	defer r.p.Stop()
	return r.drive(ctx)
}

// start runs the pipeline with every function's AWS traffic through the
// proxy.
func (r *run) start(ctx context.Context, reg *local.Registry) error {
	events := map[string]string{"IDEMPOTENCY_LEASE": idempotencyLease.String()}
	tag := map[string]string{"REGISTRY_ENDPOINT": reg.Endpoint()}
	for k, v := range events {
		tag[k] = v
	}
	p, err := local.StartPipeline(ctx, r.opts.Config, local.PipelineOptions{
		StackName: r.opts.Prefix,
		Params:    map[string]string{"QualysAccessToken": "chaos-token", "LambdaTimeout": "120", "EnableSecurityHub": strconv.FormatBool(r.plan.Size.SecurityHub)},
		BuildDir:  r.opts.BuildDir,
		Env:       local.FunctionEnv(r.proxy.URL()),
		FunctionEnv: map[string]map[string]string{
			"scan": {
				"QSCANNER_BIN":          r.opts.QScanner,
				"QSCANNER_STANDIN_MODE": r.standinModes(),
				"SCAN_RESERVE":          scanReserve.String(),
				"SCAN_RETRY_DELAYS":     "2s,4s,6s",
			},
			"tag": tag, "archive": events, "alert": events, "securityhub": events,
		},
		Timeouts: map[string]time.Duration{
			"scan": scanTimeout, "archive": handlerTimeout, "tag": handlerTimeout, "alert": handlerTimeout, "securityhub": handlerTimeout,
		},
		RetryDelay: retryDelay,
		Logger:     r.opts.Logger,
		Output:     r.opts.Output,
	})
	if err != nil {
		return err
	}
	r.p = p
	r.obs = p.Observer(r.opts.Config)
	return nil
}

// standinModes is QSCANNER_STANDIN_MODE: each misbehaving digest by name.
func (r *run) standinModes() string {
	parts := []string{"default=" + ModeOK}
	for i, img := range r.plan.Images {
		if img.Mode != ModeOK {
			parts = append(parts, r.digests[i].String()+"="+img.Mode)
		}
	}
	return strings.Join(parts, ",")
}

// drive sends the pushes with the kills and the poison in between, waits
// for quiescence and checks the stores.
func (r *run) drive(ctx context.Context) (*Result, error) {
	stopAlerts := r.collectAlerts(ctx)
	start := time.Now()
	poison, kills, err := r.send(ctx)
	if err != nil {
		stopAlerts()
		return nil, err
	}
	quiet, err := r.waitQuiescent(ctx)
	elapsed := time.Since(start)
	stopAlerts()
	if err != nil {
		return nil, err
	}
	res, err := r.check(ctx, poison)
	if err != nil {
		return nil, err
	}
	res.Elapsed, res.Quiescent, res.Kills = elapsed, quiet, kills
	if !quiet {
		res.violate("the queues did not stay empty for %v within %v", r.opts.Quiet, r.opts.Bound)
	}
	res.Faults, res.Requests = r.proxy.Counts()
	return res, nil
}

// send puts the pushes on the default bus in batches of ten, as ECR's
// events arrive, killing workers and sending the poison at their turn.
func (r *run) send(ctx context.Context) ([]poisonMessage, int, error) {
	client := eventbridge.NewFromConfig(r.opts.Config)
	var poison []poisonMessage
	kills := 0
	for i := 0; i < len(r.plan.Pushes); i += 10 {
		batch := r.plan.Pushes[i:min(i+10, len(r.plan.Pushes))]
		entries := make([]ebtypes.PutEventsRequestEntry, len(batch))
		for k, push := range batch {
			entries[k] = pushEntry(r.refs[push.Ref])
		}
		out, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return nil, kills, fmt.Errorf("put pushes %d-%d: %w", i, i+len(batch)-1, err)
		}
		if out.FailedEntryCount > 0 {
			return nil, kills, fmt.Errorf("put pushes %d-%d: %d entries refused", i, i+len(batch)-1, out.FailedEntryCount)
		}
		for sent := i; sent < i+len(batch); sent++ {
			if sent == r.plan.PoisonAfter {
				if poison, err = r.sendPoison(ctx); err != nil {
					return nil, kills, err
				}
			}
			for _, k := range r.plan.Kills {
				if k.AfterPush == sent && r.kill(ctx, k) {
					kills++
				}
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	return poison, kills, nil
}

// kill waits (up to 20s) for the function to hold an invocation, then kills
// its workers.
func (r *run) kill(ctx context.Context, k Kill) bool {
	f := r.p.Functions[k.Function]
	if f == nil {
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if held := f.KillBusy(); held > 0 {
			r.opts.Logger.Info("chaos kill", slog.String("function", k.Function), slog.Int("invocations_held", held), slog.Int("after_push", k.AfterPush))
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.opts.Logger.Warn("chaos kill: function never busy", slog.String("function", k.Function))
	return false
}

// pushEntry is the event ECR emits for a successful push of ref.
func pushEntry(ref domain.ImageRef) ebtypes.PutEventsRequestEntry {
	return ebtypes.PutEventsRequestEntry{
		Source: aws.String("aws.ecr"), DetailType: aws.String("ECR Image Action"), Resources: []string{local.RepositoryARN(ref)},
		Detail: aws.String(fmt.Sprintf(`{"result":"SUCCESS","repository-name":%q,"image-digest":%q,"action-type":"PUSH","image-tag":%q}`, ref.Repository, ref.Digest, ref.Tag)),
	}
}

// alertLog is every alert the observer queue received.
type alertLog struct {
	mu     sync.Mutex
	alerts []local.Alert
}

// collectAlerts drains the alert observer queue until the returned stop is
// called; stop drains it once more.
func (r *run) collectAlerts(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	drain := func() {
		for {
			got, err := r.obs.Alerts(ctx)
			if err != nil {
				r.opts.Logger.Warn("chaos: read alerts", attr.Err(err))
			}
			r.alerts.mu.Lock()
			r.alerts.alerts = append(r.alerts.alerts, got...)
			r.alerts.mu.Unlock()
			if len(got) == 0 {
				return
			}
		}
	}
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				drain()
				return
			case <-time.After(300 * time.Millisecond):
				drain()
			}
		}
	}()
	return func() { close(done); <-finished }
}
