package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"ecrscanner/events"
	"ecrscanner/infra/attr"
)

// Enricher is the Pipe's enrichment step: it turns the scans table's stream
// records into the project's versioned bus events. The Pipe then puts each
// returned event on the image-scans bus with detail-type $.detailType.
type Enricher struct {
	stream events.ScansStream
	logger *slog.Logger
}

// NewEnricher accepts the records of the scans table's stream, the table
// being scansTableARN; it rejects a malformed ARN and a nil logger.
func NewEnricher(scansTableARN string, logger *slog.Logger) (*Enricher, error) {
	if logger == nil {
		return nil, errors.New("enricher: logger is required")
	}
	stream, err := events.NewScansStream(scansTableARN)
	if err != nil {
		return nil, fmt.Errorf("enricher: %w", err)
	}
	return &Enricher{stream: stream, logger: logger}, nil
}

// Enrich converts a batch. Only bookkeeping changes (ScanStarted, removals
// by TTL: events.ErrNotPublished) are left out, and logged; the Pipe's
// filter normally keeps them out already. Anything else that cannot become
// a bus event fails the whole batch, so the Pipe retries, bisects and
// finally dead-letters the record: a record of another table (the Pipe is
// misconfigured), one that cannot be decoded, and an event too large for
// the bus. Nothing is lost silently.
func (e *Enricher) Enrich(ctx context.Context, records []events.StreamRecord) ([]events.ScanEvent, error) {
	out := make([]events.ScanEvent, 0, len(records))
	for _, rec := range records {
		if err := e.stream.Check(rec.EventID, rec.EventSourceArn); err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		ev, err := events.FromStreamRecord(rec.DynamoDBEventRecord)
		if errors.Is(err, events.ErrNotPublished) {
			e.logger.InfoContext(ctx, "stream record dropped", slog.String("stream_event_id", rec.EventID), slog.String(attr.Reason, err.Error()))
			continue
		}
		if err == nil {
			err = events.CheckPipeEntry(ev)
		}
		if err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		e.logger.InfoContext(ctx, "scan event published",
			slog.String(attr.EventID, ev.EventID), slog.String(attr.EventType, string(ev.EventType)),
			slog.String(attr.ImageDigest, ev.Digest.String()), slog.String(attr.ScanID, ev.ScanID))
		out = append(out, ev)
	}
	return out, nil
}
