package startup

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/lambdaenv"
)

// EventConsumer handles scan events from the image-scans bus: every
// downstream handler is one. Handle must be idempotent (see
// consume.EventHandler).
type EventConsumer interface {
	Handle(ctx context.Context, ev events.ScanEvent) error
}

// Events starts a function on the image-scans bus. Besides what every
// function reads, it reads the deduplication settings (IDEMPOTENCY_TABLE,
// IDEMPOTENCY_LEASE, IDEMPOTENCY_RETENTION, and CACHE_TTL_DAYS, which the
// markers must outlive: it refuses to start otherwise) and hands the store
// to the Build as Deps.Idempotency. Each message is decoded as a bus event, logged
// on arrival, traced in the scan's own trace (deduplication included) and
// deduplicated per function and event, then handled; outside that, the
// chain is Messages'.
func Events(name string, build Build[EventConsumer]) {
	s := begin(name, true)
	dlq := s.deadLetters()
	dedupe := dedupeSettings(s.deps.Env, name)
	store, err := dynamostore.NewIdempotencyStore(dynamodb.NewFromConfig(s.deps.AWS), dedupe.table)
	if dedupe.table != "" {
		s.deps.Env.Check(err) // a missing table is reported once, by Env
	}
	s.deps.Idempotency = store
	c, err := build(s.ctx, s.deps)
	s.ready(err)
	handler := eventChain(c, store, dedupe.DedupeConfig, s.plain, s.deps.Logger, dlq)
	lambda.StartHandlerFunc(consume.Batch(handler))
}

// eventChain is the middleware an Events function runs c in. logger names
// the function; plain does not, for LogEvent, which names it itself.
func eventChain(c EventConsumer, store domain.IdempotencyStore, cfg consume.DedupeConfig, plain, logger *slog.Logger, dlq consume.DeadLetters) consume.Handler {
	handler := consume.Events(c.Handle,
		consume.LogEvent(plain, cfg.Handler),
		consume.Trace(cfg.Handler),
		consume.Dedupe(store, cfg, logger),
	)
	return consume.Standard(handler, logger, dlq)
}

// dedupe is where and how an Events function deduplicates.
type dedupe struct {
	table string
	consume.DedupeConfig
}

// DefaultIdempotencyLease is the deduplication markers' default lease:
// longer than a downstream handler runs.
const DefaultIdempotencyLease = 5 * time.Minute

// dedupeSettings reads the deduplication settings; the markers' retention
// outlives the scan cache (readRetention).
func dedupeSettings(env *lambdaenv.Env, name string) dedupe {
	return dedupe{
		table: env.Required("IDEMPOTENCY_TABLE"),
		DedupeConfig: consume.DedupeConfig{
			Handler:   name,
			Lease:     env.Duration("IDEMPOTENCY_LEASE", DefaultIdempotencyLease),
			Retention: readRetention(env).Markers,
		},
	}
}
