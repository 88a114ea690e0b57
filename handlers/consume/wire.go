package consume

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/lambdaenv"
	"ecrscanner/infra/queue"
	"ecrscanner/infra/tracing"
)

// Deps is what a downstream handler's constructor gets from RunDownstream.
type Deps struct {
	AWS    aws.Config
	Env    *lambdaenv.Env
	Logger *slog.Logger
	// Idempotency is the store Dedupe uses, for handlers that need finer
	// keys of their own (one alert per scan and repository, say).
	Idempotency domain.IdempotencyStore
}

// Build constructs a handler's EventHandler from its configuration. It should
// read its settings from d.Env, which collects problems for one report.
type Build func(ctx context.Context, d Deps) (EventHandler, error)

// RunDownstream is the whole main of a handler on the image-scans bus: it
// reads the shared settings (IDEMPOTENCY_TABLE, optional DLQ_URL,
// IDEMPOTENCY_LEASE, IDEMPOTENCY_RETENTION), loads one aws.Config with every
// client's calls traced, builds the handler, wraps it in the standard
// middleware (Trace puts each event's work, deduplication included, into the
// scan's trace) and starts the Lambda runtime. Configuration problems are
// reported together and stop the function at start-up.
func RunDownstream(name string, build Build) {
	ctx := context.Background()
	logger := lambdacontext.NewLogger().With(slog.String(attr.Handler, name))
	tracing.Setup(logger)
	env := lambdaenv.New()
	table := env.Required("IDEMPOTENCY_TABLE")
	dlqURL := env.String("DLQ_URL", "")
	lease := env.Duration("IDEMPOTENCY_LEASE", 5*time.Minute)
	retention := env.Duration("IDEMPOTENCY_RETENTION", 8*24*time.Hour)

	cfg, err := awsconfig.Load(ctx, tracing.Instrument)
	if err != nil {
		fatal(logger, err)
	}
	store, err := dynamostore.NewIdempotencyStore(dynamodb.NewFromConfig(cfg), table)
	if err != nil && env.Err() == nil {
		fatal(logger, err)
	}
	h, err := build(ctx, Deps{AWS: cfg, Env: env, Logger: logger, Idempotency: store})
	if err := errors.Join(err, env.Err()); err != nil {
		fatal(logger, err)
	}
	var dlq DeadLetters
	if dlqURL != "" {
		if dlq, err = queue.NewDeadLetters(sqs.NewFromConfig(cfg), dlqURL); err != nil {
			fatal(logger, err)
		}
	}
	handler := Events(h,
		LogEvent(logger, name),
		Trace(name),
		Dedupe(store, DedupeConfig{Handler: name, Lease: lease, Retention: retention}, logger),
	)
	lambda.StartHandlerFunc(Batch(Standard(handler, logger, dlq)))
}

func fatal(logger *slog.Logger, err error) {
	logger.Error("cannot start", attr.Err(err))
	os.Exit(1)
}
