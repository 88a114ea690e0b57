package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/events"
	"ecrscanner/infra/attr"
)

// Enricher is the Pipe's enrichment step: it turns the scans table's stream
// records into the project's versioned bus events. The Pipe then puts each
// returned event on the image-scans bus with detail-type $.detailType.
type Enricher struct {
	logger *slog.Logger
}

// Enrich converts a batch. Records whose change handlers do not see are
// dropped (the Pipe's filter normally keeps them out already). A record that
// cannot be decoded fails the batch, so the Pipe retries, bisects and finally
// dead-letters it: nothing is lost silently.
func (e *Enricher) Enrich(ctx context.Context, records []awsevents.DynamoDBEventRecord) ([]events.ScanEvent, error) {
	out := make([]events.ScanEvent, 0, len(records))
	for _, rec := range records {
		ev, err := events.FromStreamRecord(rec)
		if errors.Is(err, events.ErrNotPublished) {
			e.logger.DebugContext(ctx, "stream record dropped", slog.String("stream_event_id", rec.EventID), slog.String(attr.Reason, err.Error()))
			continue
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
