package stack

import (
	"encoding/json"
	"path"
	"strings"
)

// RuleSpec is an EventBridge rule and the queue it delivers to.
type RuleSpec struct {
	LogicalID string
	// Bus is the logical ID of the rule's bus, or "default".
	Bus string
	// Pattern is the event pattern as JSON.
	Pattern []byte
	// Queue is the logical ID of the rule's SQS target; empty if it has none.
	Queue string
	// Condition is the template condition the rule depends on, if any.
	Condition string
}

// BusRules lists the rules on the bus with the given logical ID ("default" or
// "" for the default bus), sorted by logical ID. Rules whose pattern cannot be
// read are left out; the template tests make sure there are none.
func (t *Template) BusRules(bus string) []RuleSpec {
	if bus == "" {
		bus = "default"
	}
	var rules []RuleSpec
	for _, id := range t.ofType("AWS::Events::Rule") {
		r := t.Resources[id]
		onBus := "default"
		if b, ok := r.Properties["EventBusName"]; ok {
			if ref, ok := logicalID(b); ok {
				onBus = ref
			} else {
				onBus = scalarString(b)
			}
		}
		if onBus != bus {
			continue
		}
		pattern, err := patternJSON(r.Properties["EventPattern"])
		if err != nil {
			continue
		}
		spec := RuleSpec{LogicalID: id, Bus: onBus, Pattern: pattern, Condition: r.Condition}
		targets, _ := r.Properties["Targets"].([]any)
		for _, target := range targets {
			if q, ok := logicalID(mapOf(target)["Arn"]); ok && t.Resources[q].Type == "AWS::SQS::Queue" {
				spec.Queue = q
				break
			}
		}
		rules = append(rules, spec)
	}
	return rules
}

// MappingSpec is a Lambda event source mapping.
type MappingSpec struct {
	LogicalID string
	// Queue is the logical ID of the event source; Function the logical ID of
	// the function it invokes.
	Queue                          string
	Function                       string
	BatchSize                      int
	MaximumBatchingWindowInSeconds int
	MaximumConcurrency             int
	ReportBatchItemFailures        bool
}

// EventSourceMappings lists the template's event source mappings, sorted by
// logical ID.
func (t *Template) EventSourceMappings() []MappingSpec {
	var out []MappingSpec
	for _, id := range t.ofType("AWS::Lambda::EventSourceMapping") {
		p := t.Resources[id].Properties
		m := MappingSpec{
			LogicalID:                      id,
			BatchSize:                      intOf(p["BatchSize"]),
			MaximumBatchingWindowInSeconds: intOf(p["MaximumBatchingWindowInSeconds"]),
			MaximumConcurrency:             intOf(mapOf(p["ScalingConfig"])["MaximumConcurrency"]),
		}
		m.Queue, _ = logicalID(p["EventSourceArn"])
		m.Function, _ = logicalID(p["FunctionName"])
		types, _ := p["FunctionResponseTypes"].([]any)
		for _, rt := range types {
			if rt == "ReportBatchItemFailures" {
				m.ReportBatchItemFailures = true
			}
		}
		out = append(out, m)
	}
	return out
}

// FunctionSpec is a Lambda function of the template.
type FunctionSpec struct {
	LogicalID string
	// HandlerDir is the folder under handlers/ the function is built from,
	// read from its code key "<prefix>/<dir>.zip"; empty if the key has
	// another shape.
	HandlerDir string
	// Environment holds the variables with their raw template values: plain
	// strings, or intrinsic functions in long form.
	Environment map[string]any
	// Role is the logical ID of the function's execution role.
	Role string
	// Architectures holds the raw values ("arm64", or a Ref to a parameter).
	Architectures []any
	// LogGroup is the logical ID of the log group in LoggingConfig, if any.
	LogGroup string
}

// Functions lists the template's Lambda functions, sorted by logical ID.
func (t *Template) Functions() []FunctionSpec {
	var out []FunctionSpec
	for _, id := range t.ofType("AWS::Lambda::Function") {
		p := t.Resources[id].Properties
		f := FunctionSpec{LogicalID: id, Environment: map[string]any{}}
		f.HandlerDir = handlerDir(mapOf(p["Code"])["S3Key"])
		for k, v := range mapOf(mapOf(p["Environment"])["Variables"]) {
			f.Environment[k] = v
		}
		f.Role, _ = logicalID(p["Role"])
		f.Architectures, _ = p["Architectures"].([]any)
		f.LogGroup, _ = logicalID(mapOf(p["LoggingConfig"])["LogGroup"])
		out = append(out, f)
	}
	return out
}

// handlerDir reads "scan" from "prefix/scan.zip", whether the key is a plain
// string or an Fn::Sub template.
func handlerDir(key any) string {
	s, ok := key.(string)
	if !ok {
		s, ok = mapOf(key)["Fn::Sub"].(string)
	}
	if !ok {
		return ""
	}
	base := path.Base(s)
	dir, found := strings.CutSuffix(base, ".zip")
	if !found || dir == "" || strings.ContainsAny(dir, "${}") {
		return ""
	}
	return dir
}

// QueueSpec is an SQS queue of the template.
type QueueSpec struct {
	LogicalID string
	// DLQ is the logical ID of the queue's dead-letter queue; empty if none.
	DLQ             string
	MaxReceiveCount int
	// IsDLQ reports whether another queue of the template redrives to it.
	IsDLQ bool
	// IsDeliveryDLQ reports whether a rule target's or the Pipe's
	// DeadLetterConfig names it: EventBridge parks there what it could not
	// deliver.
	IsDeliveryDLQ bool
	// VisibilityTimeout is the raw value: a number, or an intrinsic function;
	// nil when unset (SQS's default of 30 seconds).
	VisibilityTimeout any
}

// Queues lists the template's SQS queues, sorted by logical ID.
func (t *Template) Queues() []QueueSpec {
	ids := t.ofType("AWS::SQS::Queue")
	dlqs := map[string]bool{}
	out := make([]QueueSpec, 0, len(ids))
	for _, id := range ids {
		p := t.Resources[id].Properties
		q := QueueSpec{LogicalID: id, VisibilityTimeout: p["VisibilityTimeout"]}
		redrive := mapOf(p["RedrivePolicy"])
		if s, ok := p["RedrivePolicy"].(string); ok {
			_ = json.Unmarshal([]byte(s), &redrive)
		}
		if dlq, ok := logicalID(redrive["deadLetterTargetArn"]); ok {
			q.DLQ = dlq
			q.MaxReceiveCount = intOf(redrive["maxReceiveCount"])
			dlqs[dlq] = true
		}
		out = append(out, q)
	}
	delivery := t.deliveryDLQs()
	for i := range out {
		out[i].IsDLQ = dlqs[out[i].LogicalID]
		out[i].IsDeliveryDLQ = delivery[out[i].LogicalID]
	}
	return out
}

// deliveryDLQs returns the logical IDs of the queues named by a
// DeadLetterConfig of a rule target or of a Pipe's source.
func (t *Template) deliveryDLQs() map[string]bool {
	out := map[string]bool{}
	for _, id := range t.ofType("AWS::Events::Rule") {
		targets, _ := t.Resources[id].Properties["Targets"].([]any)
		for _, target := range targets {
			if q, ok := logicalID(mapOf(mapOf(target)["DeadLetterConfig"])["Arn"]); ok {
				out[q] = true
			}
		}
	}
	for _, id := range t.ofType("AWS::Pipes::Pipe") {
		source := mapOf(t.Resources[id].Properties["SourceParameters"])
		for _, params := range source {
			if q, ok := logicalID(mapOf(mapOf(params)["DeadLetterConfig"])["Arn"]); ok {
				out[q] = true
			}
		}
	}
	return out
}
