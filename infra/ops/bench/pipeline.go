package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/chaos"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/motoserver"
	"ecrscanner/infra/qscanner/qscannertest"
)

// pipelineResult is what the pipeline measure found, which the cost model
// reads too.
type pipelineResult struct {
	latencies []time.Duration // push to all effects, one per latency push
	// The burst: events sent, distinct digests, QScanner runs for them.
	burstEvents, burstDigests, scans int
	burstTook, floorTook             time.Duration
	// calls counts the functions' AWS requests during the burst by
	// "service.Operation".
	calls map[string]int
	// invocations and billed (each invocation's duration rounded up to the
	// millisecond, as Lambda bills) per function logical ID, during the
	// burst; busEvents is what the Pipe put on the bus then.
	invocations map[string]int
	billed      map[string]time.Duration
	busEvents   int
	// messages the functions' pollers handed them; findings imported into
	// Security Hub (counted in the BatchImportFindings requests).
	messages, findings int
}

// localStack is the running stack the measure drives.
type localStack struct {
	moto     *motoserver.Moto
	reg      *local.Registry
	proxy    *callProxy
	pipeline *local.Pipeline
	cfg      aws.Config
	ecr      *ecr.Client
	runsFile string

	mu        sync.Mutex
	invoked   map[string]int
	billed    map[string]time.Duration
	busEvents int
	messages  int
}

func (b *bench) measurePipeline(ctx context.Context) section {
	b.progress("pipeline: starting moto (IAM enforced), the registry and the stack")
	st, err := b.startStack(ctx)
	if err != nil {
		return section{rows: []Row{errRow("pipeline", err)}}
	}
	defer st.stop()
	res := &pipelineResult{}
	if res.latencies, err = b.latencyPushes(ctx, st); err != nil {
		return section{rows: []Row{errRow("pipeline latency", err)}}
	}
	if err := b.burst(ctx, st, res); err != nil {
		return section{rows: []Row{errRow("pipeline burst", err)}}
	}
	b.pipeline = res
	return pipelineSection(res, b.opts)
}

func (st *localStack) stop() {
	if st.pipeline != nil {
		st.pipeline.Stop()
	}
	if st.proxy != nil {
		st.proxy.Close()
	}
	if st.reg != nil {
		st.reg.Close()
	}
	if st.moto != nil {
		_ = st.moto.Stop()
	}
}

// startStack deploys the template into moto with IAM enforced, as make run
// does, with the functions' AWS traffic through the counting proxy and the
// QScanner stand-in (a test tool, not QScanner: its scans take no time) as
// the scanner.
func (b *bench) startStack(ctx context.Context) (_ *localStack, err error) {
	st := &localStack{invoked: map[string]int{}, billed: map[string]time.Duration{}}
	defer func() {
		if err != nil {
			st.stop()
		}
	}()
	if st.moto, err = motoserver.StartMoto(ctx, motoserver.MotoOptions{}); err != nil {
		return nil, err
	}
	if st.reg, err = local.StartRegistry(); err != nil {
		return nil, err
	}
	base, err := local.Config(ctx, st.moto.Endpoint())
	if err != nil {
		return nil, err
	}
	if st.cfg, err = local.AdminConfig(ctx, st.moto, base, "ecrscan-bench"); err != nil {
		return nil, err
	}
	st.ecr = ecr.NewFromConfig(st.cfg)
	if st.proxy, err = startCallProxy(st.moto.Endpoint()); err != nil {
		return nil, err
	}
	standIn, err := qscannertest.Build()
	if err != nil {
		return nil, err
	}
	st.runsFile = filepath.Join(b.tmp, "qscanner-runs.jsonl")
	st.pipeline, err = local.StartPipeline(ctx, st.cfg, local.PipelineOptions{
		StackName: "ecrscan-bench",
		Params:    map[string]string{"QualysAccessToken": "bench-token"},
		BuildDir:  filepath.Join(b.tmp, "pipeline"),
		Env:       local.FunctionEnv(st.proxy.URL()),
		FunctionEnv: map[string]map[string]string{
			"scan": {"QSCANNER_BIN": standIn, "QSCANNER_STANDIN_RECORD": st.runsFile},
			"tag":  {"REGISTRY_ENDPOINT": st.reg.Endpoint()},
		},
		IAM:      st.moto,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Output:   func(string, string) {},
		OnEvent:  func(string, []byte) { st.mu.Lock(); st.busEvents++; st.mu.Unlock() },
		OnResult: st.onResult,
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (st *localStack) onResult(function string, received, _ int, took time.Duration, _ error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.invoked[function]++
	st.messages += received
	st.billed[function] += took.Round(time.Millisecond) + time.Millisecond/2
}

// resetCounts clears the invocation counts, for a phase of its own.
func (st *localStack) resetCounts() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.invoked, st.billed, st.busEvents, st.messages = map[string]int{}, map[string]time.Duration{}, 0, 0
}

// publish pushes n new images (content from seed) to the registry and to
// moto's ECR, image i to repos[i%len(repos)].
func (st *localStack) publish(ctx context.Context, seed uint64, n int, repos []string) ([]domain.ImageRef, error) {
	refs := make([]domain.ImageRef, n)
	for i := range refs {
		img, err := chaos.Image{Index: i, Seed: seed + uint64(i)}.Build()
		if err != nil {
			return nil, err
		}
		if refs[i], err = st.reg.Publish(ctx, st.ecr, img, local.Account, local.Region, repos[i%len(repos)], fmt.Sprintf("v%d", i)); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// countRuns counts the stand-in's runs that named each digest.
func countRuns(path string, digests []domain.Digest) (map[domain.Digest]int, error) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return countDigests(string(b), digests), nil
}
