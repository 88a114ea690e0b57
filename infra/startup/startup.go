// Package startup is how every Lambda function starts, so that each
// handlers/<fn>/main.go only wires its own adapters. In order: a logger that
// follows the function's log format and level and names the function on
// every line; tracing, set up before anything traces; the environment read
// through lambdaenv, which collects every configuration problem; one
// aws.Config whose clients' calls are all traced; the function's own
// adapters and handler (its Build); the middleware chain; and the Lambda
// runtime. Every problem found before the runtime starts is reported at once
// and stops the function.
//
// Three shapes of function start here: Messages (an SQS-triggered function
// handling raw queue messages: scan), Events (one handling scan events from
// the image-scans bus: archive, tag, alert, securityhub), and Func (any other
// handler signature Lambda accepts: the Pipe's enrichment).
package startup

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/lambdaenv"
	"ecrscanner/infra/queue"
	"ecrscanner/infra/tracing"
)

// Deps is what a function's Build gets from start-up.
type Deps struct {
	// Name is the function's name: the handler on its log lines and spans,
	// and the owner of its idempotency keys.
	Name string
	// Env reads the function's settings and collects configuration
	// problems. A Build records its constructors' errors with Env.Check,
	// so that they are reported together with the rest.
	Env *lambdaenv.Env
	// Logger names the function (attr.Handler) on every line.
	Logger *slog.Logger
	// AWS is the one configuration every client is built from; each
	// client's calls are recorded as spans. Zero for Func, whose functions
	// call no AWS service.
	AWS aws.Config
	// Idempotency is the store Dedupe uses, for Events functions that need
	// finer keys of their own (one alert per scan and repository, say),
	// kept for MarkerRetention so that they outlive the scan cache too; nil
	// for the others.
	Idempotency domain.IdempotencyStore
}

// Build constructs a function's handler from its adapters. It reads its
// settings from d.Env and may meet configuration problems there or in its
// constructors: it records them in d.Env, or returns them, and start-up
// reports them all before the handler could ever run.
type Build[H any] func(ctx context.Context, d Deps) (H, error)

// Messages starts an SQS-triggered function whose handler takes the queue's
// messages as they are. Its handler is wrapped in consume.Standard, with
// dead-lettering when DLQ_URL is set, and reports partial batch failures.
func Messages(name string, build Build[consume.Handler]) {
	s := begin(name, true)
	dlq := s.deadLetters()
	h, err := build(s.ctx, s.deps)
	s.ready(err)
	lambda.StartHandlerFunc(consume.Batch(consume.Standard(h, s.deps.Logger, dlq)))
}

// Func starts a function with any handler signature Lambda accepts, checked
// at compile time. It loads no AWS configuration.
func Func[TIn, TOut any](name string, build Build[func(context.Context, TIn) (TOut, error)]) {
	s := begin(name, false)
	h, err := build(s.ctx, s.deps)
	s.ready(err)
	lambda.StartHandlerFunc(h)
}

// start is a function on its way to the runtime.
type start struct {
	ctx  context.Context
	deps Deps
	// plain is the logger before it names the function, for middleware
	// that names the function on its lines itself (consume.LogEvent).
	plain *slog.Logger
}

// begin does what every function does first: logger, tracing, environment
// and, when the function calls AWS, its configuration.
func begin(name string, withAWS bool) *start {
	plain := lambdacontext.NewLogger()
	s := &start{
		ctx:   context.Background(),
		plain: plain,
		deps:  Deps{Name: name, Env: lambdaenv.New(), Logger: plain.With(slog.String(attr.Handler, name))},
	}
	tracing.Setup(s.deps.Logger)
	if withAWS {
		cfg, err := awsconfig.Load(s.ctx, tracing.Instrument)
		s.deps.Env.Check(err)
		s.deps.AWS = cfg
	}
	return s
}

// deadLetters is the queue DLQ_URL names, where permanent failures are
// parked at once; nil when the setting is absent, leaving SQS's own redrive
// policy to move them after their receives are spent.
func (s *start) deadLetters() consume.DeadLetters {
	url := s.deps.Env.String("DLQ_URL", "")
	if url == "" {
		return nil
	}
	dlq, err := queue.NewDeadLetters(sqs.NewFromConfig(s.deps.AWS), url)
	if err != nil {
		s.deps.Env.Check(err)
		return nil
	}
	return dlq
}

// ready stops the function, logging every problem met so far together with
// err, if there is any.
func (s *start) ready(err error) {
	if err := errors.Join(s.deps.Env.Err(), err); err != nil {
		s.deps.Logger.Error("cannot start", attr.Err(err))
		os.Exit(1)
	}
}
