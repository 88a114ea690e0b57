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
// returned element on the image-scans bus with the static detail-type
// events.DetailType; rules route on its detail.eventType.
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

// Enrich converts a batch, in order, one output element at most per record:
//   - a published change becomes its scan event;
//   - bookkeeping (ScanStarted, removals by TTL: events.ErrNotPublished) is
//     left out, and logged; the Pipe's filter normally keeps it out already;
//   - a record that cannot become a bus event (an item that does not decode
//     or validate, an event too large for the bus) becomes an
//     events.RecordRejected with its reason, which the rejection rule parks
//     in RejectedRecordsQueue. Its neighbours are published all the same:
//     failing the batch for it would hold up the shard through the Pipe's
//     retries and bisection, and retrying cannot mend the item.
//
// A record of another table fails the whole batch (events.ErrOtherTable):
// it is not one bad item but a misconfigured Pipe, whose every record would
// be rejected. Failing stops the Pipe's progress, raises its failure alarms
// and, once its retries run out, parks the records whole in PipeDLQ, from
// where they can be redriven once the Pipe is fixed.
func (e *Enricher) Enrich(ctx context.Context, records []events.StreamRecord) ([]events.PipeEvent, error) {
	out := make([]events.PipeEvent, 0, len(records))
	for _, rec := range records {
		if err := e.stream.Check(rec.EventID, rec.EventSourceArn); err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		if pe, ok := e.enrichOne(ctx, rec.DynamoDBEventRecord); ok {
			out = append(out, pe)
		}
	}
	return out, nil
}

// enrichOne is the output element for one record of the scans table, if any.
func (e *Enricher) enrichOne(ctx context.Context, rec awsevents.DynamoDBEventRecord) (events.PipeEvent, bool) {
	ev, err := events.FromStreamRecord(rec)
	if errors.Is(err, events.ErrNotPublished) {
		e.logger.InfoContext(ctx, "stream record dropped", slog.String("stream_event_id", rec.EventID), slog.String(attr.Reason, err.Error()))
		return events.PipeEvent{}, false
	}
	if err == nil {
		err = events.CheckPipeEntry(ev)
	}
	if err != nil {
		r := events.NewRecordRejected(rec, err)
		e.logger.WarnContext(ctx, "stream record rejected",
			slog.String("stream_event_id", r.Record.StreamEventID), slog.String("sequence_number", r.Record.SequenceNumber),
			slog.String(attr.ImageDigest, r.Record.Digest), slog.String(attr.Reason, r.Reason))
		return events.PipeEvent{Rejected: &r}, true
	}
	e.logger.InfoContext(ctx, "scan event published",
		slog.String(attr.EventID, ev.EventID), slog.String(attr.EventType, string(ev.EventType)),
		slog.String(attr.ImageDigest, ev.Digest.String()), slog.String(attr.ScanID, ev.ScanID))
	return events.PipeEvent{Scan: &ev}, true
}
