// Command scan is the scan function: ECR push events from the scan queue in,
// one QScanner run per image digest, a ScanCompleted (or ScanFailed) record in
// the scans table out.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/handlers/consume"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/lambdaenv"
	"ecrscanner/infra/qscanner"
	"ecrscanner/infra/queue"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/secretstore"
	"ecrscanner/infra/tracing"
)

func main() {
	ctx := context.Background()
	logger := lambdacontext.NewLogger().With(slog.String(attr.Handler, "scan"))
	tracing.Setup(logger)

	env := lambdaenv.New()
	table := env.Required("SCANS_TABLE")
	bucket := env.Required("REPORTS_BUCKET")
	cfg := Config{
		CacheTTL:    time.Duration(env.Int("CACHE_TTL_DAYS", 30)) * 24 * time.Hour,
		MaxAttempts: env.Int("MAX_SCAN_ATTEMPTS", 3),
		Platforms:   env.List("SCAN_PLATFORMS", []string{"linux/amd64"}),
	}
	qcfg := qscanner.Config{
		Binary:     env.String("QSCANNER_BIN", "/opt/bin/qscanner"),
		Pod:        env.String("QUALYS_POD", ""),
		GatewayURL: env.String("QUALYS_GATEWAY_URL", ""),
		ScanTypes:  env.String("SCAN_TYPES", "pkg,secret"),
		Mode:       env.String("QSCANNER_MODE", ""),
		PolicyTags: env.String("QSCANNER_POLICY_TAGS", ""),
		Reserve:    env.Duration("SCAN_RESERVE", 30*time.Second),
	}
	secretID := env.String("QUALYS_TOKEN_SECRET_ARN", "")
	dlqURL := env.String("DLQ_URL", "")

	awsCfg, err := awsconfig.Load(ctx, tracing.Instrument)
	env.Check(err)
	tokens, err := secretstore.New(secretstore.Config{SecretID: secretID, SecretIDSetting: "QUALYS_TOKEN_SECRET_ARN"}, secretsmanager.NewFromConfig(awsCfg))
	env.Check(err)
	runner, err := qscanner.NewRunner(qcfg, traceTokens(tokens), logger)
	env.Check(err)
	store, err := dynamostore.NewScanStore(dynamodb.NewFromConfig(awsCfg), table)
	env.Check(err)
	reports, err := s3store.NewReports(s3.NewFromConfig(awsCfg, awsconfig.S3Options(awsCfg)), bucket)
	env.Check(err)
	inspector, err := ecrstore.NewInspector(ecr.NewFromConfig(awsCfg))
	env.Check(err)
	sqsClient := sqs.NewFromConfig(awsCfg)
	var dlq consume.DeadLetters
	if dlqURL != "" {
		dlq, err = queue.NewDeadLetters(sqsClient, dlqURL)
		env.Check(err)
	}
	visibility, err := queue.NewVisibility(sqsClient)
	env.Check(err)
	delays := env.Durations("SCAN_RETRY_DELAYS", []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute})
	if err := env.Err(); err != nil {
		logger.Error("cannot start", attr.Err(err))
		os.Exit(1)
	}
	h, err := NewHandler(store, reports, inspector, runner, cfg, logger)
	if err != nil {
		logger.Error("cannot start", attr.Err(err))
		os.Exit(1)
	}
	// A retryable scan failure comes back after a short delay rather than
	// the queue's visibility timeout (six times the function's).
	handle := consume.Backoff(visibility, delays, logger)(h.Handle)
	lambda.StartHandlerFunc(consume.Batch(consume.Standard(handle, logger, dlq)))
}

// tracedTokens records each Qualys token fetch (a Secrets Manager read, or a
// cache hit) as a "token fetch" span; the runner asks inside its own run, so
// the span sits under "qscanner run".
type tracedTokens struct{ qscanner.TokenSource }

func traceTokens(ts qscanner.TokenSource) qscanner.TokenSource {
	if ts == nil {
		return nil // NewRunner reports the missing source
	}
	return tracedTokens{ts}
}

func (t tracedTokens) Token(ctx context.Context) (string, error) {
	ctx, span := tracing.Start(ctx, "token fetch")
	tok, err := t.TokenSource.Token(ctx)
	span.End(err)
	return tok, err
}
