package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/eventpattern"
	"ecrscanner/infra/ops/stack"
)

// Invoker runs one invocation of a function.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte, traceHeader string) ([]byte, error)
}

// StreamsAPI is the part of the DynamoDB Streams client the Pipe uses.
type StreamsAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// BusAPI is the part of the EventBridge client the Pipe uses.
type BusAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// SenderAPI sends to the Pipe's dead-letter queue.
type SenderAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Pipe plays an EventBridge Pipe with a DynamoDB stream source, a filter, an
// enrichment function and an event bus target — the one role besides
// invoking functions that moto does not play. It follows the template's
// settings: filter patterns, batch size, retry attempts, dead-letter queue,
// and the target's static source and detail-type. What AWS would refuse or
// not do, it refuses too (CheckPipeSpec, checkTarget), so that a template
// that only works locally does not pass for a working one.
type Pipe struct {
	StreamARN  string
	Filters    []*eventpattern.Pattern
	BatchSize  int
	MaxRetries int
	Enrich     Invoker
	Bus        string
	// Source and DetailType are static: see checkTarget.
	Source     string
	DetailType string
	DLQURL     string
	// TraceHeader, when set, gives each enrichment invocation its trace
	// header, as Lambda does for a function with active tracing.
	TraceHeader func() string

	Streams StreamsAPI
	Events  BusAPI
	DLQ     SenderAPI
	Logger  *slog.Logger
	// OnEvent is told about each event put on the bus (for progress output).
	OnEvent func(detailType string, detail []byte)

	mu        sync.Mutex
	iterators map[string]*string
	done      map[string]bool
}

// Run polls the stream until ctx ends. Records already in the stream when it
// starts are read from the trim horizon, so nothing written before the Pipe
// started is missed.
func (p *Pipe) Run(ctx context.Context) error {
	if err := checkTarget(p.Source, p.DetailType); err != nil {
		return err
	}
	if p.BatchSize <= 0 {
		p.BatchSize = 10
	}
	p.iterators = map[string]*string{}
	p.done = map[string]bool{}
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	lastDescribe := time.Time{}
	for {
		if time.Since(lastDescribe) > 2*time.Second {
			if err := p.discoverShards(ctx); err != nil && ctx.Err() == nil {
				p.Logger.WarnContext(ctx, "pipe: describe stream", slog.String("error", err.Error()))
			}
			lastDescribe = time.Now()
		}
		for shard, it := range p.snapshot() {
			if err := p.poll(ctx, shard, it); err != nil && ctx.Err() == nil {
				p.Logger.WarnContext(ctx, "pipe: poll shard", slog.String("shard", shard), slog.String("error", err.Error()))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (p *Pipe) snapshot() map[string]*string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]*string, len(p.iterators))
	for k, v := range p.iterators {
		out[k] = v
	}
	return out
}

func (p *Pipe) discoverShards(ctx context.Context) error {
	out, err := p.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.StreamARN)})
	if err != nil {
		return err
	}
	for _, sh := range out.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		p.mu.Lock()
		_, known := p.iterators[id]
		finished := p.done[id]
		p.mu.Unlock()
		if known || finished {
			continue
		}
		it, err := p.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(p.StreamARN), ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.iterators[id] = it.ShardIterator
		p.mu.Unlock()
	}
	return nil
}

func (p *Pipe) poll(ctx context.Context, shard string, it *string) error {
	out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(1000)})
	if err != nil {
		return err
	}
	var batch []json.RawMessage
	for _, r := range out.Records {
		rec, err := StreamRecordJSON(r, p.StreamARN)
		if err != nil {
			return err
		}
		if p.passes(rec) {
			batch = append(batch, rec)
		}
	}
	for len(batch) > 0 {
		n := min(len(batch), p.BatchSize)
		p.deliver(ctx, batch[:n])
		batch = batch[n:]
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if out.NextShardIterator == nil {
		delete(p.iterators, shard)
		p.done[shard] = true
	} else {
		p.iterators[shard] = out.NextShardIterator
	}
	return nil
}

func (p *Pipe) passes(rec []byte) bool {
	if len(p.Filters) == 0 {
		return true
	}
	for _, f := range p.Filters {
		if ok, err := f.Match(rec); err == nil && ok {
			return true
		}
	}
	return false
}

// deliver enriches a batch and puts the events on the bus, retrying the
// batch up to MaxRetries times and then dead-lettering it, as the Pipe does.
func (p *Pipe) deliver(ctx context.Context, batch []json.RawMessage) {
	payload, _ := json.Marshal(batch)
	var err error
	for attempt := 0; attempt <= p.MaxRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		if err = p.deliverOnce(ctx, payload); err == nil || ctx.Err() != nil {
			return
		}
		p.Logger.WarnContext(ctx, "pipe: batch failed", slog.Int("attempt", attempt+1), slog.String("error", err.Error()))
	}
	if p.DLQ != nil && p.DLQURL != "" {
		body, _ := json.Marshal(map[string]any{"error": err.Error(), "records": batch})
		if _, derr := p.DLQ.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.DLQURL), MessageBody: aws.String(string(body))}); derr != nil {
			p.Logger.ErrorContext(ctx, "pipe: dead-letter failed", slog.String("error", derr.Error()))
		}
	}
}

func (p *Pipe) deliverOnce(ctx context.Context, payload []byte) error {
	out, err := p.Enrich.Invoke(ctx, payload, traceHeader(p.TraceHeader))
	if err != nil {
		return fmt.Errorf("enrichment: %w", err)
	}
	var enriched []json.RawMessage
	if err := json.Unmarshal(out, &enriched); err != nil {
		return fmt.Errorf("enrichment returned %q: %w", clipOutput(out), err)
	}
	// An enrichment may return fewer or more elements than it was given,
	// but "if the array is larger than the batch size the target supports,
	// the pipe doesn't invoke the target"; an event bus takes 10
	// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-batching-concurrency.html).
	if len(enriched) > maxBusBatch {
		return fmt.Errorf("enrichment returned %d events; a Pipe does not invoke an event bus target with more than %d", len(enriched), maxBusBatch)
	}
	var entries []ebtypes.PutEventsRequestEntry
	for _, detail := range enriched {
		entries = append(entries, ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(p.Bus),
			Source:       aws.String(p.Source),
			DetailType:   aws.String(p.DetailType),
			Detail:       aws.String(string(detail)),
		})
	}
	for len(entries) > 0 {
		n := min(len(entries), maxBusBatch) // PutEvents takes at most ten entries
		res, err := p.Events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries[:n]})
		if err != nil {
			return fmt.Errorf("put events: %w", err)
		}
		if res.FailedEntryCount > 0 {
			return fmt.Errorf("put events: %d of %d entries failed", res.FailedEntryCount, n)
		}
		if p.OnEvent != nil {
			for _, e := range entries[:n] {
				p.OnEvent(aws.ToString(e.DetailType), []byte(aws.ToString(e.Detail)))
			}
		}
		entries = entries[n:]
	}
	return nil
}

// maxBusBatch is the most events a Pipe sends an event bus target at once.
const maxBusBatch = 10

// Documentation the local Pipe's refusals cite.
const (
	docDynamoDBFiltering = "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html"
	docPipesFiltering    = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-event-filtering.html"
	docPipesTargets      = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-event-target.html"
)

// CheckPipeSpec refuses a Pipe that AWS would not run as the template says:
//   - a filter pattern with a top-level key other than "dynamodb": a
//     DynamoDB stream is filtered on that key only, so a pattern on the
//     record's metadata (eventName, eventSourceARN...) would be refused or
//     match nothing, where the local matcher would happily apply it;
//   - a target Source or DetailType that is a dynamic path ("$.field"), or
//     empty (see checkTarget).
func CheckPipeSpec(spec stack.PipeSpec) error {
	for i, f := range spec.Filters {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(f), &keys); err != nil {
			return fmt.Errorf("pipe %s: filter %d is not a JSON object: %w", spec.LogicalID, i, err)
		}
		for k := range keys {
			if k != "dynamodb" {
				return fmt.Errorf("pipe %s: filter %d uses the key %q; a Pipe filters a DynamoDB stream on the dynamodb key only "+
					"(\"DynamoDB event source mappings only support filtering on the dynamodb key\", %s; Pipes filter the same way, %s)",
					spec.LogicalID, i, k, docDynamoDBFiltering, docPipesFiltering)
			}
		}
	}
	if err := checkTarget(spec.Source, spec.DetailType); err != nil {
		return fmt.Errorf("pipe %s: %w", spec.LogicalID, err)
	}
	return nil
}

// checkTarget refuses an empty or dynamic Source or DetailType. A dynamic
// path parameter is replaced "with data from the event payload itself" and
// "can't reference new or transformed values" (docPipesTargets): it reads the source
// record, not what the enrichment returns, so "$.detailType" could not name
// the enrichment's event type in AWS, and the local Pipe supports only
// static values rather than play a behaviour AWS does not have.
func checkTarget(source, detailType string) error {
	for _, f := range []struct{ name, value string }{{"Source", source}, {"DetailType", detailType}} {
		switch {
		case f.value == "":
			return fmt.Errorf("target %s is empty; PutEvents needs one", f.name)
		case strings.HasPrefix(f.value, "$."):
			return fmt.Errorf("target %s %q is a dynamic path: the local Pipe supports only static values, because AWS resolves "+
				"a dynamic path against the source event's payload, not the enrichment's output (%s)", f.name, f.value, docPipesTargets)
		}
	}
	return nil
}

func clipOutput(b []byte) string {
	return domain.Truncate(string(b), 200, domain.Ellipsis)
}

// StreamRecordJSON renders an SDK stream record in the JSON shape that Pipes
// and Lambda deliver (the shape of aws-lambda-go's DynamoDBEventRecord).
// eventSourceARN is streamARN, the stream's own ARN (<table ARN>/stream/<label>)
// as AWS sets it: the enrichment refuses a record whose source is not a
// stream of its SCANS_TABLE_ARN.
func StreamRecordJSON(r streamtypes.Record, streamARN string) ([]byte, error) {
	ch := r.Dynamodb
	if ch == nil {
		return nil, errors.New("stream record without dynamodb section")
	}
	body := map[string]any{
		"Keys":           attrMap(ch.Keys),
		"SequenceNumber": aws.ToString(ch.SequenceNumber),
		"SizeBytes":      aws.ToInt64(ch.SizeBytes),
		"StreamViewType": string(ch.StreamViewType),
	}
	if ch.ApproximateCreationDateTime != nil {
		body["ApproximateCreationDateTime"] = ch.ApproximateCreationDateTime.Unix()
	}
	if ch.NewImage != nil {
		body["NewImage"] = attrMap(ch.NewImage)
	}
	if ch.OldImage != nil {
		body["OldImage"] = attrMap(ch.OldImage)
	}
	return json.Marshal(map[string]any{
		"eventID":        aws.ToString(r.EventID),
		"eventName":      string(r.EventName),
		"eventVersion":   aws.ToString(r.EventVersion),
		"eventSource":    aws.ToString(r.EventSource),
		"awsRegion":      aws.ToString(r.AwsRegion),
		"eventSourceARN": streamARN,
		"dynamodb":       body,
	})
}

func attrMap(m map[string]streamtypes.AttributeValue) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = attrJSON(v)
	}
	return out
}

// attrJSON renders one attribute in DynamoDB's JSON form ({"S": "..."}).
func attrJSON(v streamtypes.AttributeValue) map[string]any {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *streamtypes.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *streamtypes.AttributeValueMemberB:
		return map[string]any{"B": v.Value}
	case *streamtypes.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *streamtypes.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}
	case *streamtypes.AttributeValueMemberM:
		return map[string]any{"M": attrMap(v.Value)}
	case *streamtypes.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = attrJSON(e)
		}
		return map[string]any{"L": l}
	case *streamtypes.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}
	case *streamtypes.AttributeValueMemberNS:
		return map[string]any{"NS": v.Value}
	case *streamtypes.AttributeValueMemberBS:
		return map[string]any{"BS": v.Value}
	}
	return map[string]any{"NULL": true}
}
