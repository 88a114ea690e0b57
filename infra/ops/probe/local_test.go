package probe_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/probe"
	"ecrscanner/infra/qscanner/qscannertest"
)

// operator is the configuration the probe runs with: an admin user of the
// package's moto, as an operator's credentials are, which keeps working
// once a pipeline enforces IAM.
func operator(t *testing.T) aws.Config { return mototest.Admin(t) }

// localStack starts the whole stack on moto under enforced IAM, with the
// QScanner stand-in and the tag function writing to reg.
func localStack(t *testing.T, reg *local.Registry, dropAction string) *local.Pipeline {
	t.Helper()
	return localStackScanning(t, reg, dropAction, "default=ok")
}

// localStackScanning is localStack with the stand-in QScanner in mode
// (QSCANNER_STANDIN_MODE).
func localStackScanning(t *testing.T, reg *local.Registry, dropAction, mode string) *local.Pipeline {
	t.Helper()
	cfg := operator(t)
	p, err := local.StartPipeline(context.Background(), cfg, local.PipelineOptions{
		StackName: mototest.UniqueName("probe"),
		Params:    map[string]string{"QualysAccessToken": "probe-test-token"},
		BuildDir:  t.TempDir(),
		Env:       local.FunctionEnv(mototest.Endpoint(t)),
		FunctionEnv: map[string]map[string]string{
			"scan": {"QSCANNER_BIN": qscannertest.BuildStandIn(t), "QSCANNER_STANDIN_FIXTURE": qscannertest.FixtureDir("basic"), "QSCANNER_STANDIN_MODE": mode},
			"tag":  {"REGISTRY_ENDPOINT": reg.Endpoint()},
		},
		RetryDelay: time.Second,
		IAM:        mototest.Server(t),
		DropAction: dropAction,
		Output: func(fn, line string) {
			if !strings.Contains(line, `"level":"INFO"`) && !strings.Contains(line, `"level":"DEBUG"`) {
				t.Logf("%s | %.300s", fn, line)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// runProbe runs verify --probe's code against the local stack, as the CLI
// does against AWS but for the push.
func runProbe(t *testing.T, p *local.Pipeline, reg *local.Registry, timeout time.Duration) probe.Report {
	t.Helper()
	cfg := operator(t)
	rep, err := runProbeCtx(t, context.Background(), p, local.ProbeRegistry{Registry: reg, ECR: ecr.NewFromConfig(cfg), Events: eventbridge.NewFromConfig(cfg)}, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func runProbeCtx(t *testing.T, ctx context.Context, p *local.Pipeline, reg probe.Registry, timeout time.Duration) (probe.Report, error) {
	t.Helper()
	pr, err := probe.New(probe.NewClients(operator(t)), reg, probe.Options{
		StackName: p.Deployment.Name, Timeout: timeout, Poll: 500 * time.Millisecond,
		NoTraces: "moto has no X-Ray API (BatchGetTraces)",
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pr.Run(ctx)
	var b strings.Builder
	_ = rep.Render(&b)
	t.Logf("probe report:\n%s", b.String())
	return rep, err
}

func startRegistry(t *testing.T) *local.Registry {
	t.Helper()
	reg, err := local.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return reg
}

// TestProbePassesOnTheLocalStack runs the probe twice against a healthy local
// stack: every stage passes (the trace is skipped with moto's reason), each
// run with an image of its own, and each leaves nothing behind.
func TestProbePassesOnTheLocalStack(t *testing.T) {
	reg := startRegistry(t)
	p := localStack(t, reg, "")
	var digests []string
	for run := 1; run <= 2; run++ {
		rep := runProbe(t, p, reg, 90*time.Second)
		for _, s := range rep.Stages {
			want := deployer.Pass
			if s.Name == probe.StageTrace {
				want = deployer.Skip
			}
			if s.Result != want {
				t.Errorf("run %d: %s is %s (%s; %s), want %s", run, s.Name, s.Result, s.Detail, s.Cause, want)
			}
		}
		if len(rep.Stages) != 12 {
			t.Errorf("run %d: %d stages reported, want 12", run, len(rep.Stages))
		}
		checkCleanedUp(t, p, rep)
		digests = append(digests, rep.Digest)
	}
	if digests[0] == digests[1] || digests[0] == "" {
		t.Errorf("two runs pushed digests %v; each run wants an image of its own", digests)
	}

	// Ctrl-C shortly after the push: the run reports the interruption, lets
	// the image finish its way through, and still leaves nothing behind,
	// also once the pipeline has had time to write more.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := runProbeCtx(t, ctx, p, interruptAfterPush{local.ProbeRegistry{Registry: reg, ECR: ecr.NewFromConfig(operator(t)), Events: eventbridge.NewFromConfig(operator(t))}, cancel}, 90*time.Second)
	if err == nil {
		t.Error("an interrupted run returned no error")
	}
	if c, _ := rep.Stage(probe.StageCleanup); c.Result != deployer.Pass {
		t.Errorf("cleanup after Ctrl-C: %+v", c)
	}
	if s, _ := rep.Stage(probe.StageScan); s.Result != deployer.Fail || !strings.Contains(s.Detail, "interrupted") {
		t.Errorf("scan stage after Ctrl-C: %+v; want FAIL saying it was interrupted", s)
	}
	checkCleanedUp(t, p, rep)
	time.Sleep(3 * time.Second)
	checkCleanedUp(t, p, rep)
}

// interruptAfterPush pushes, then cancels the run as Ctrl-C would.
type interruptAfterPush struct {
	probe.Registry
	cancel context.CancelFunc
}

func (i interruptAfterPush) Push(ctx context.Context, account, region, repo, tag string, img v1.Image) (domain.ImageRef, error) {
	ref, err := i.Registry.Push(ctx, account, region, repo, tag, img)
	i.cancel()
	return ref, err
}

// TestProbeNamesTheBrokenStage drops sns:Publish from the alert function's
// role ($ECRSCAN_DROP_ACTION may name another AlertRole action): the alert
// stage, and only it, fails, its cause naming the alert DLQ the message
// ended in and the permission to check; the clean-up still removes
// everything.
func TestProbeNamesTheBrokenStage(t *testing.T) {
	spec := "AlertRole:sns:Publish"
	if env := os.Getenv(local.DropActionEnv); strings.HasPrefix(env, "AlertRole:") {
		spec = env
	}
	reg := startRegistry(t)
	p := localStack(t, reg, spec)
	rep := runProbe(t, p, reg, 60*time.Second)
	for _, s := range rep.Stages {
		switch {
		case s.Name == probe.StageAlert:
			if s.Result != deployer.Fail || !strings.Contains(s.Cause, "AlertDLQ") || !strings.Contains(s.Cause, "sns:Publish") {
				t.Errorf("alert stage %s, cause %q; want FAIL naming AlertDLQ and sns:Publish", s.Result, s.Cause)
			}
		case s.Name == probe.StageTrace:
			if s.Result != deployer.Skip {
				t.Errorf("trace stage %s, want SKIP on moto", s.Result)
			}
		case s.Result != deployer.Pass:
			t.Errorf("%s is %s (%s), want PASS: only the alert is broken", s.Name, s.Result, s.Detail)
		}
	}
	if !rep.Failed() {
		t.Error("the report does not count as failed")
	}
	checkCleanedUp(t, p, rep)
}

// TestProbeOfABrokenScanner: a QScanner layer that is not the real one (the
// stand-in printing garbage) fails the scan stage with the scan's own
// failure; nothing downstream is waited for, and the clean-up is complete.
func TestProbeOfABrokenScanner(t *testing.T) {
	reg := startRegistry(t)
	p := localStackScanning(t, reg, "", "default=garbage")
	rep := runProbe(t, p, reg, 60*time.Second)
	for _, s := range rep.Stages {
		switch s.Name {
		case probe.StageStack, probe.StagePush, probe.StageTrigger, probe.StageCleanup:
			if s.Result != deployer.Pass {
				t.Errorf("%s is %s (%s), want PASS", s.Name, s.Result, s.Detail)
			}
		case probe.StageScan:
			if s.Result != deployer.Fail || !strings.Contains(s.Detail, "scan failed: ") || !strings.Contains(s.Cause, "QScanner layer") {
				t.Errorf("scan stage %+v; want FAIL with the scan's failure and the layer to check", s)
			}
		default:
			if s.Result != deployer.Skip {
				t.Errorf("%s is %s (%s), want SKIP after a failed scan", s.Name, s.Result, s.Detail)
			}
		}
	}
	checkCleanedUp(t, p, rep)
}
