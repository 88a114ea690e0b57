package stack

import "fmt"

// PipeSpec is what the local runner needs to play the template's Pipe.
type PipeSpec struct {
	LogicalID string
	// SourceTable is the logical ID of the DynamoDB table whose stream feeds
	// the Pipe.
	SourceTable string
	// Filters are the filter patterns as JSON; a record passes if any matches.
	Filters          []string
	StartingPosition string
	BatchSize        int
	// MaximumBatchingWindowInSeconds, MaximumRetryAttempts and
	// MaximumRecordAgeInSeconds are 0 when the template leaves them unset.
	MaximumBatchingWindowInSeconds int
	MaximumRetryAttempts           int
	MaximumRecordAgeInSeconds      int
	OnPartialBatchItemFailure      string
	// DeadLetterQueue is the logical ID of the queue that receives records
	// the Pipe gave up on.
	DeadLetterQueue string
	// Enrichment is the logical ID of the enrichment function.
	Enrichment string
	// TargetBus is the logical ID of the target event bus.
	TargetBus string
	// Source and DetailType are the target's settings for the events put on
	// the bus, as written (a "$." dynamic path is read as is; the local Pipe
	// refuses one, see infra/ops/local.CheckPipeSpec).
	Source     string
	DetailType string
}

// Pipe describes the template's one AWS::Pipes::Pipe. It fails if there is not
// exactly one, or if its source, enrichment or target is not a resource of this
// template.
func (t *Template) Pipe() (PipeSpec, error) {
	ids := t.ofType("AWS::Pipes::Pipe")
	if len(ids) != 1 {
		return PipeSpec{}, fmt.Errorf("pipe: want exactly one AWS::Pipes::Pipe, found %d", len(ids))
	}
	id := ids[0]
	p := t.Resources[id].Properties
	spec := PipeSpec{LogicalID: id}
	var ok bool
	if spec.SourceTable, ok = logicalID(p["Source"]); !ok || t.Resources[spec.SourceTable].Type != "AWS::DynamoDB::Table" {
		return PipeSpec{}, fmt.Errorf("pipe %s: source is not a table of this template", id)
	}
	if spec.Enrichment, ok = logicalID(p["Enrichment"]); !ok || t.Resources[spec.Enrichment].Type != "AWS::Lambda::Function" {
		return PipeSpec{}, fmt.Errorf("pipe %s: enrichment is not a function of this template", id)
	}
	if spec.TargetBus, ok = logicalID(p["Target"]); !ok || t.Resources[spec.TargetBus].Type != "AWS::Events::EventBus" {
		return PipeSpec{}, fmt.Errorf("pipe %s: target is not an event bus of this template", id)
	}
	source := mapOf(p["SourceParameters"])
	stream := mapOf(source["DynamoDBStreamParameters"])
	spec.StartingPosition = scalarString(stream["StartingPosition"])
	spec.BatchSize = intOf(stream["BatchSize"])
	spec.MaximumBatchingWindowInSeconds = intOf(stream["MaximumBatchingWindowInSeconds"])
	spec.MaximumRetryAttempts = intOf(stream["MaximumRetryAttempts"])
	spec.MaximumRecordAgeInSeconds = intOf(stream["MaximumRecordAgeInSeconds"])
	spec.OnPartialBatchItemFailure = scalarString(stream["OnPartialBatchItemFailure"])
	if dlq, ok := logicalID(mapOf(stream["DeadLetterConfig"])["Arn"]); ok {
		spec.DeadLetterQueue = dlq
	}
	filters, _ := mapOf(source["FilterCriteria"])["Filters"].([]any)
	for i, f := range filters {
		pattern, err := patternJSON(mapOf(f)["Pattern"])
		if err != nil {
			return PipeSpec{}, fmt.Errorf("pipe %s: filter %d: %w", id, i, err)
		}
		spec.Filters = append(spec.Filters, string(pattern))
	}
	bus := mapOf(mapOf(p["TargetParameters"])["EventBridgeEventBusParameters"])
	spec.Source = scalarString(bus["Source"])
	spec.DetailType = scalarString(bus["DetailType"])
	return spec, nil
}
