// Package stack holds the project's one CloudFormation template and reads it.
//
// The template is the single description of the deployed pipeline. The local
// runner, which plays the EventBridge Pipe and the Lambda service on moto, and
// the tests read the Pipe's filter, the bus rules, the queues and the functions
// from it through this package, so a local run follows the deployed
// configuration instead of a copy of it.
package stack

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed template.yaml
var templateYAML []byte

// Body returns the template as written, for CreateStack and ValidateTemplate.
// The caller owns the returned slice.
func Body() []byte {
	return append([]byte(nil), templateYAML...)
}

// Template is a parsed CloudFormation template. Short-form intrinsic functions
// are in their long form: `!Ref X` reads as map{"Ref": "X"}, `!GetAtt A.B` as
// map{"Fn::GetAtt": []any{"A", "B"}}, `!Sub s` as map{"Fn::Sub": s}, and so on.
type Template struct {
	Description string
	Parameters  map[string]Parameter
	Mappings    map[string]any
	Conditions  map[string]any
	Rules       map[string]any
	Resources   map[string]Resource
	Outputs     map[string]Output
}

// Parameter is a template parameter. Values are strings, as CloudFormation
// passes them; HasDefault tells an empty default from none.
type Parameter struct {
	Type           string
	Description    string
	Default        string
	HasDefault     bool
	AllowedValues  []string
	AllowedPattern string
	NoEcho         bool
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	Type       string
	Properties map[string]any
	Condition  string
	Metadata   map[string]any
	DependsOn  []string
}

// Output is one entry of the template's Outputs section.
type Output struct {
	Description string
	Value       any
	Condition   string
}

// Load parses the embedded template.
func Load() (*Template, error) {
	return Parse(templateYAML)
}

// Parse parses a CloudFormation template written in YAML (JSON is YAML too).
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	raw, err := convert(&doc)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("parse template: top level is not a mapping")
	}
	t := &Template{
		Parameters: map[string]Parameter{},
		Mappings:   mapOf(top["Mappings"]),
		Conditions: mapOf(top["Conditions"]),
		Rules:      mapOf(top["Rules"]),
		Resources:  map[string]Resource{},
		Outputs:    map[string]Output{},
	}
	t.Description, _ = top["Description"].(string)
	for name, v := range mapOf(top["Parameters"]) {
		p, err := parseParameter(v)
		if err != nil {
			return nil, fmt.Errorf("parse template: parameter %s: %w", name, err)
		}
		t.Parameters[name] = p
	}
	resources := mapOf(top["Resources"])
	if len(resources) == 0 {
		return nil, errors.New("parse template: no resources")
	}
	for id, v := range resources {
		r, err := parseResource(v)
		if err != nil {
			return nil, fmt.Errorf("parse template: resource %s: %w", id, err)
		}
		t.Resources[id] = r
	}
	for name, v := range mapOf(top["Outputs"]) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse template: output %s is not a mapping", name)
		}
		o := Output{Value: m["Value"]}
		o.Description, _ = m["Description"].(string)
		o.Condition, _ = m["Condition"].(string)
		t.Outputs[name] = o
	}
	return t, nil
}

func parseParameter(v any) (Parameter, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Parameter{}, errors.New("not a mapping")
	}
	var p Parameter
	p.Type, _ = m["Type"].(string)
	if p.Type == "" {
		return Parameter{}, errors.New("no Type")
	}
	p.Description, _ = m["Description"].(string)
	p.AllowedPattern, _ = m["AllowedPattern"].(string)
	if d, ok := m["Default"]; ok {
		p.Default, p.HasDefault = scalarString(d), true
	}
	if vs, ok := m["AllowedValues"].([]any); ok {
		for _, v := range vs {
			p.AllowedValues = append(p.AllowedValues, scalarString(v))
		}
	}
	p.NoEcho = scalarString(m["NoEcho"]) == "true"
	return p, nil
}

func parseResource(v any) (Resource, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Resource{}, errors.New("not a mapping")
	}
	var r Resource
	r.Type, _ = m["Type"].(string)
	if r.Type == "" {
		return Resource{}, errors.New("no Type")
	}
	r.Properties = mapOf(m["Properties"])
	r.Metadata = mapOf(m["Metadata"])
	r.Condition, _ = m["Condition"].(string)
	switch d := m["DependsOn"].(type) {
	case string:
		r.DependsOn = []string{d}
	case []any:
		for _, x := range d {
			r.DependsOn = append(r.DependsOn, scalarString(x))
		}
	}
	return r, nil
}

// cfnTags maps each short-form tag to its long-form key.
var cfnTags = map[string]string{
	"!Ref":         "Ref",
	"!Condition":   "Condition",
	"!Sub":         "Fn::Sub",
	"!GetAtt":      "Fn::GetAtt",
	"!If":          "Fn::If",
	"!Equals":      "Fn::Equals",
	"!Not":         "Fn::Not",
	"!And":         "Fn::And",
	"!Or":          "Fn::Or",
	"!Select":      "Fn::Select",
	"!Join":        "Fn::Join",
	"!Split":       "Fn::Split",
	"!FindInMap":   "Fn::FindInMap",
	"!Base64":      "Fn::Base64",
	"!ImportValue": "Fn::ImportValue",
	"!Cidr":        "Fn::Cidr",
	"!GetAZs":      "Fn::GetAZs",
}

// convert turns a YAML node into plain Go values (map[string]any, []any,
// string, int, float64, bool, nil), rewriting CloudFormation's short-form tags
// into their long-form maps.
func convert(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty document")
		}
		return convert(n.Content[0])
	case yaml.AliasNode:
		return convert(n.Alias)
	}
	if key, ok := cfnTags[n.Tag]; ok {
		return convertTagged(key, n)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: merge keys are not CloudFormation", k.Line)
			}
			cv, err := convert(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = cv
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			cv, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, cv)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

func convertTagged(key string, n *yaml.Node) (any, error) {
	if n.Kind == yaml.ScalarNode {
		// The tag replaces YAML's type resolution: `!Ref 30` names "30".
		if key == "Fn::GetAtt" {
			resource, attr, ok := strings.Cut(n.Value, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, n.Value)
			}
			return map[string]any{key: []any{resource, attr}}, nil
		}
		return map[string]any{key: n.Value}, nil
	}
	plain := *n
	plain.Tag = ""
	switch n.Kind {
	case yaml.SequenceNode:
		plain.Tag = "!!seq"
	case yaml.MappingNode:
		plain.Tag = "!!map"
	}
	v, err := convert(&plain)
	if err != nil {
		return nil, err
	}
	return map[string]any{key: v}, nil
}

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
	// Source is the source of the events put on the bus. DetailType is either
	// a fixed detail type or a JSON path ("$.detailType") into each enriched
	// event.
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
	for i := range out {
		out[i].IsDLQ = dlqs[out[i].LogicalID]
	}
	return out
}

// ofType returns the logical IDs of the resources of one type, sorted.
func (t *Template) ofType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// logicalID reads the resource a value points at: {"Ref": id} or
// {"Fn::GetAtt": [id, attr]}.
func logicalID(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	if ref, ok := m["Ref"].(string); ok {
		if strings.HasPrefix(ref, "AWS::") {
			return "", false
		}
		return ref, true
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
		id, ok := ga[0].(string)
		return id, ok
	}
	return "", false
}

// patternJSON returns an event pattern as JSON, whether the template holds it
// as a mapping or as a JSON string.
func patternJSON(v any) ([]byte, error) {
	switch p := v.(type) {
	case string:
		if !json.Valid([]byte(p)) {
			return nil, errors.New("pattern is not valid JSON")
		}
		return []byte(p), nil
	case map[string]any:
		return json.Marshal(p)
	case nil:
		return nil, errors.New("no pattern")
	}
	return nil, fmt.Errorf("pattern is a %T", v)
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// scalarString renders a scalar as CloudFormation would pass it: 30 as "30",
// true as "true". Non-scalars render as "".
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// intOf reads an integer written as a number or a numeric string; anything
// else (absent, an intrinsic function) is 0.
func intOf(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case float64:
		if x == float64(int(x)) {
			return int(x)
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n
		}
	}
	return 0
}
