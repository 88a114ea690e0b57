package local

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"ecrscanner/infra/ops/buildcache"
	"ecrscanner/infra/ops/eventpattern"
	"ecrscanner/infra/ops/modroot"
	"ecrscanner/infra/ops/stack"
	"ecrscanner/infra/tracing"
)

// PipelineOptions configures a local run of the whole stack.
type PipelineOptions struct {
	StackName string
	// Params override template parameters.
	Params map[string]string
	// BuildDir receives the function binaries.
	BuildDir string
	// Env is added to every function's environment (endpoint, credentials).
	Env map[string]string
	// FunctionEnv adds or overrides variables per handler folder ("scan",
	// "tag", …): local stand-ins for what a deployment provides, such as
	// QSCANNER_BIN instead of the layer.
	FunctionEnv map[string]map[string]string
	// Timeouts override the template's function timeouts per handler folder
	// (fault-injection runs shorten them so that a timeout costs seconds).
	Timeouts map[string]time.Duration
	// RetryDelay is how soon a failed message is retried (default 1s).
	RetryDelay time.Duration
	// XRayDaemon, when set, is the UDP address (host:port) of an X-Ray
	// daemon, and the functions trace as they do in Lambda with active
	// tracing: they get AWS_XRAY_DAEMON_ADDRESS and the other variables
	// Lambda sets, and every invocation a fresh sampled trace header.
	XRayDaemon string
	Logger     *slog.Logger
	// IAM, when set, holds the run to the template's roles: each function
	// process, and the poller playing its event source mapping, runs with
	// credentials of the function's execution role, the Pipe with those of
	// its role, and IAM is enforced once the stack is deployed. cfg must then
	// carry credentials that stay valid under enforcement (AdminConfig).
	IAM IAM
	// DropAction removes one action from one role before deploying (see
	// DropAction).
	DropAction string
	// Output receives the functions' log lines.
	Output   func(function, line string)
	OnEvent  func(detailType string, detail []byte)
	OnResult func(function string, received, failed int, took time.Duration, err error)
}

// Pipeline is the stack running locally: moto holds the resources (deployed
// from the template), and this process plays the two roles moto does not —
// the Pipe, and the Lambda service invoking each function from its queue.
type Pipeline struct {
	Deployment *Deployment
	Functions  map[string]*Function // by logical ID
	// ObserverQueue is an SQS queue subscribed to the alert topic, where a
	// local run or a test reads the alerts that were published.
	ObserverQueue string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	roles  *roles // nil unless IAM is enforced
}

// StartPipeline builds the functions, deploys the template into moto (cfg
// points at it), starts the functions, the Pipe and one poller per event
// source mapping.
func StartPipeline(ctx context.Context, cfg aws.Config, opts PipelineOptions) (*Pipeline, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	if opts.XRayDaemon != "" {
		if _, _, err := net.SplitHostPort(opts.XRayDaemon); err != nil {
			return nil, fmt.Errorf("X-Ray daemon address %q: %w", opts.XRayDaemon, err)
		}
	}
	tmpl, err := stack.Load()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, f := range tmpl.Functions() {
		dirs = append(dirs, f.HandlerDir)
	}
	if err := BuildFunctions(ctx, opts.BuildDir, dirs...); err != nil {
		return nil, err
	}
	d, err := Deploy(ctx, cfg, DeployOptions{StackName: opts.StackName, Params: opts.Params, DropAction: opts.DropAction})
	if err != nil {
		return nil, err
	}
	if err := d.Provide(ctx, cfg); err != nil {
		return nil, err
	}
	tmpl = d.Template // with DropAction applied
	p := &Pipeline{Deployment: d, Functions: map[string]*Function{}, roles: newRoles(opts.IAM, d)}
	if opts.IAM != nil {
		if err := opts.IAM.EnforceIAM(ctx); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	if err := p.start(ctx, runCtx, cfg, tmpl, opts); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Pipeline) start(ctx, runCtx context.Context, cfg aws.Config, tmpl *stack.Template, opts PipelineOptions) error {
	d := p.Deployment
	mappings := tmpl.EventSourceMappings()
	concurrency := map[string]int{}
	for _, m := range mappings {
		concurrency[m.Function] = max(1, min(m.MaximumConcurrency, 4))
	}
	for _, fs := range tmpl.Functions() {
		if !d.Created(fs.LogicalID) {
			continue // its condition is false for these parameters
		}
		env, err := d.Environment(fs)
		if err != nil {
			return err
		}
		for k, v := range tracingEnv(opts.XRayDaemon, opts.BuildDir) {
			env[k] = v
		}
		for k, v := range opts.Env {
			env[k] = v
		}
		for k, v := range opts.FunctionEnv[fs.HandlerDir] {
			env[k] = v
		}
		timeout := time.Minute
		if t, err := d.Resolve(d.Template.Resources[fs.LogicalID].Properties["Timeout"]); err == nil {
			if n, err := strconv.Atoi(t); err == nil && n > 0 {
				timeout = time.Duration(n) * time.Second
			}
		}
		if t := opts.Timeouts[fs.HandlerDir]; t > 0 {
			timeout = t
		}
		creds, err := p.roles.functionEnv(fs.Role)
		if err != nil {
			return fmt.Errorf("function %s: %w", fs.LogicalID, err)
		}
		f := &Function{
			Name: fs.LogicalID, Binary: filepath.Join(opts.BuildDir, fs.HandlerDir), Env: env,
			Timeout: timeout, Workers: max(1, concurrency[fs.LogicalID]), Output: opts.Output, Credentials: creds,
		}
		if err := f.Start(); err != nil {
			return err
		}
		p.Functions[fs.LogicalID] = f
	}

	sqsClient := sqs.NewFromConfig(cfg)
	if err := p.startPollers(runCtx, cfg, sqsClient, tmpl, mappings, concurrency, opts); err != nil {
		return err
	}

	pipe, err := p.pipe(ctx, cfg, tmpl, opts)
	if err != nil {
		return err
	}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = pipe.Run(runCtx) }()

	return p.observeAlerts(ctx, cfg, sqsClient, tmpl)
}

// startPollers starts one poller per event source mapping of a started
// function. sqsClient is the harness's, for the poller's own bookkeeping.
func (p *Pipeline) startPollers(runCtx context.Context, cfg aws.Config, sqsClient *sqs.Client, tmpl *stack.Template, mappings []stack.MappingSpec, concurrency map[string]int, opts PipelineOptions) error {
	for _, m := range mappings {
		if !p.Deployment.Created(m.LogicalID) || p.Functions[m.Function] == nil {
			continue
		}
		// An event source mapping reads its queue with the function's
		// execution role.
		// https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions
		mappingCfg, err := p.roles.config(cfg, functionRole(tmpl, m.Function), lambdaService)
		if err != nil {
			return fmt.Errorf("mapping %s: %w", m.LogicalID, err)
		}
		url, err := p.Deployment.Ref(m.Queue)
		if err != nil {
			return fmt.Errorf("mapping %s: %w", m.LogicalID, err)
		}
		arn, _ := p.Deployment.Resolve(map[string]any{"Fn::GetAtt": []any{m.Queue, "Arn"}})
		poller := &Poller{
			Function: p.Functions[m.Function], Name: m.Function, QueueURL: url, QueueARN: arn,
			BatchSize: m.BatchSize, Concurrency: concurrency[m.Function], RetryDelay: opts.RetryDelay,
			Visibility:              6 * p.Functions[m.Function].Timeout, // AWS's advice for a queue feeding a function
			ReportBatchItemFailures: m.ReportBatchItemFailures, SQS: sqs.NewFromConfig(mappingCfg), Retry: sqsClient, Logger: opts.Logger, OnResult: opts.OnResult,
			TraceHeader: newTrace(opts.XRayDaemon),
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); poller.Run(runCtx) }()
	}
	return nil
}

func (p *Pipeline) pipe(ctx context.Context, cfg aws.Config, tmpl *stack.Template, opts PipelineOptions) (*Pipe, error) {
	d := p.Deployment
	spec, err := tmpl.Pipe()
	if err != nil {
		return nil, err
	}
	if err := CheckPipeSpec(spec); err != nil {
		return nil, err
	}
	table, err := d.Ref(spec.SourceTable)
	if err != nil {
		return nil, err
	}
	desc, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("pipe source %s: %w", table, err)
	}
	if desc.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("pipe source %s has no stream", table)
	}
	bus, err := d.Ref(spec.TargetBus)
	if err != nil {
		return nil, err
	}
	// The Pipe reads the stream, invokes the enrichment, puts events and
	// dead-letters with its role.
	roleID, _ := getAttTarget(tmpl.Resources[spec.LogicalID].Properties["RoleArn"])
	pipeCfg, err := p.roles.config(cfg, roleID, pipesService)
	if err != nil {
		return nil, fmt.Errorf("pipe %s: %w", spec.LogicalID, err)
	}
	enrich, err := p.roles.invoker(p.Functions[spec.Enrichment], roleID, spec.Enrichment)
	if err != nil {
		return nil, fmt.Errorf("pipe %s: %w", spec.LogicalID, err)
	}
	pipe := &Pipe{
		StreamARN: aws.ToString(desc.Table.LatestStreamArn), BatchSize: spec.BatchSize, MaxRetries: min(spec.MaximumRetryAttempts, 3),
		Enrich: enrich, Bus: bus, Source: spec.Source, DetailType: spec.DetailType,
		Streams: dynamodbstreams.NewFromConfig(pipeCfg), Events: eventbridge.NewFromConfig(pipeCfg), DLQ: sqs.NewFromConfig(pipeCfg),
		Logger: opts.Logger, OnEvent: opts.OnEvent, TraceHeader: newTrace(opts.XRayDaemon),
	}
	if spec.DeadLetterQueue != "" {
		pipe.DLQURL, _ = d.Ref(spec.DeadLetterQueue)
	}
	for _, f := range spec.Filters {
		pat, err := eventpattern.Compile([]byte(f))
		if err != nil {
			return nil, fmt.Errorf("pipe filter: %w", err)
		}
		pipe.Filters = append(pipe.Filters, pat)
	}
	return pipe, nil
}

// functionRole is the logical ID of a function's execution role.
func functionRole(t *stack.Template, function string) string {
	for _, f := range t.Functions() {
		if f.LogicalID == function {
			return f.Role
		}
	}
	return ""
}

// tracingEnv is what Lambda adds to a function's environment with active
// tracing, for a daemon at addr; nothing without one. LAMBDA_TASK_ROOT is
// where the function's code is (the SDK checks it to know it runs in Lambda).
func tracingEnv(addr, taskRoot string) map[string]string {
	if addr == "" {
		return nil
	}
	host, port, _ := net.SplitHostPort(addr)
	return map[string]string{
		"AWS_XRAY_DAEMON_ADDRESS":  addr,
		"_AWS_XRAY_DAEMON_ADDRESS": host,
		"_AWS_XRAY_DAEMON_PORT":    port,
		"AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
		"LAMBDA_TASK_ROOT":         taskRoot,
	}
}

// newTrace gives invocations a fresh sampled trace header each when a
// daemon records them, and none otherwise.
func newTrace(daemon string) func() string {
	if daemon == "" {
		return nil
	}
	return func() string { return tracing.NewHeader(time.Now()).String() }
}

// observeAlerts subscribes a queue to every SNS topic of the stack, so the
// published alerts can be read back.
func (p *Pipeline) observeAlerts(ctx context.Context, cfg aws.Config, sqsClient *sqs.Client, tmpl *stack.Template) error {
	snsClient := sns.NewFromConfig(cfg)
	out, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(p.Deployment.Name + "-alert-observer")})
	if err != nil {
		return fmt.Errorf("create alert observer queue: %w", err)
	}
	p.ObserverQueue = aws.ToString(out.QueueUrl)
	attrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return err
	}
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::SNS::Topic" {
			continue
		}
		topic, err := p.Deployment.Ref(id)
		if err != nil {
			continue
		}
		if _, err := snsClient.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
			Endpoint: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
		}); err != nil {
			return fmt.Errorf("subscribe observer to %s: %w", topic, err)
		}
	}
	return nil
}

// Ref returns the physical ID of a template resource (a queue's URL, a
// table's name, a topic's ARN).
func (p *Pipeline) Ref(logicalID string) (string, error) { return p.Deployment.Ref(logicalID) }

// Stop ends pollers, the Pipe and the functions.
func (p *Pipeline) Stop() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	for _, f := range p.Functions {
		f.Stop()
	}
}

// BuildFunctions compiles handlers/<dir> for each dir into outDir/<dir>
// (see Build).
func BuildFunctions(ctx context.Context, outDir string, dirs ...string) error {
	pkgs := make([]string, len(dirs))
	for i, d := range dirs {
		pkgs[i] = "./handlers/" + d
	}
	return Build(ctx, outDir, pkgs...)
}

// Build compiles packages of this module (paths such as
// ./testdata/qscanner-standin) for this machine, with the tags of the Lambda
// build, into outDir, each binary named after its folder. The binaries come
// from the shared build cache, so the local runs and tests of one source
// tree link each program once.
func Build(ctx context.Context, outDir string, pkgs ...string) error {
	root, err := modroot.Find(".")
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return buildcache.BuildCached(ctx, buildcache.Spec{Root: root, Flags: []string{"-tags", "lambda.norpc"}}, outDir, pkgs...)
}
