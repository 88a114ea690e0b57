package stack

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// parseValue parses `V: <expr>` inside a minimal template and returns V.
func parseValue(t *testing.T, expr string) any {
	t.Helper()
	tpl, err := Parse([]byte("Resources:\n  R:\n    Type: X::Y::Z\n    Properties:\n      V: " + expr + "\n"))
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return tpl.Resources["R"].Properties["V"]
}

func TestParseShortFormTags(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want any
	}{
		{"Ref", "!Ref Bucket", map[string]any{"Ref": "Bucket"}},
		{"Ref keeps numeric-looking names as strings", "!Ref 30", map[string]any{"Ref": "30"}},
		{"Condition", "!Condition IsProd", map[string]any{"Condition": "IsProd"}},
		{"Sub string", "!Sub '${AWS::StackName}-x'", map[string]any{"Fn::Sub": "${AWS::StackName}-x"}},
		{"Sub with variables", "!Sub ['${A}-${B}', {A: a, B: !Ref B}]",
			map[string]any{"Fn::Sub": []any{"${A}-${B}", map[string]any{"A": "a", "B": map[string]any{"Ref": "B"}}}}},
		{"GetAtt dotted", "!GetAtt Table.StreamArn", map[string]any{"Fn::GetAtt": []any{"Table", "StreamArn"}}},
		{"GetAtt dotted attribute with dots", "!GetAtt Db.Endpoint.Address", map[string]any{"Fn::GetAtt": []any{"Db", "Endpoint.Address"}}},
		{"GetAtt list", "!GetAtt [Queue, Arn]", map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}},
		{"If nested", "!If [Cond, !Ref A, !Ref AWS::NoValue]",
			map[string]any{"Fn::If": []any{"Cond", map[string]any{"Ref": "A"}, map[string]any{"Ref": "AWS::NoValue"}}}},
		{"Equals", "!Equals [!Ref P, '']", map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, ""}}},
		{"Not", "!Not [!Condition C]", map[string]any{"Fn::Not": []any{map[string]any{"Condition": "C"}}}},
		{"And", "!And [!Condition A, !Condition B]",
			map[string]any{"Fn::And": []any{map[string]any{"Condition": "A"}, map[string]any{"Condition": "B"}}}},
		{"Or", "!Or [!Condition A, !Condition B]",
			map[string]any{"Fn::Or": []any{map[string]any{"Condition": "A"}, map[string]any{"Condition": "B"}}}},
		{"Select", "!Select [0, !GetAZs '']",
			map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::GetAZs": ""}}}},
		{"Join", "!Join ['', [a, !Ref B]]", map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Ref": "B"}}}}},
		{"Split", "!Split [',', 'a,b']", map[string]any{"Fn::Split": []any{",", "a,b"}}},
		{"FindInMap", "!FindInMap [M, !Ref K, Seconds]",
			map[string]any{"Fn::FindInMap": []any{"M", map[string]any{"Ref": "K"}, "Seconds"}}},
		{"Base64", "!Base64 hello", map[string]any{"Fn::Base64": "hello"}},
		{"ImportValue", "!ImportValue shared-vpc", map[string]any{"Fn::ImportValue": "shared-vpc"}},
		{"Cidr", "!Cidr [10.0.0.0/16, 4, 8]", map[string]any{"Fn::Cidr": []any{"10.0.0.0/16", 4, 8}}},
		{"GetAZs", "!GetAZs eu-west-1", map[string]any{"Fn::GetAZs": "eu-west-1"}},
		{"long form passes through", "{'Fn::GetAtt': [Q, Arn]}", map[string]any{"Fn::GetAtt": []any{"Q", "Arn"}}},
		{"plain scalars keep YAML types", "[1, true, x, 1.5]", []any{1, true, "x", 1.5}},
		{"tagged mapping", "!Base64 {'Fn::Sub': x}", map[string]any{"Fn::Base64": map[string]any{"Fn::Sub": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseValue(t, tt.expr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"not YAML", "Resources: [", "parse template"},
		{"top level is a list", "- a\n- b\n", "not a mapping"},
		{"no resources", "Parameters: {}\n", "no resources"},
		{"resource without type", "Resources:\n  R:\n    Properties: {}\n", "resource R: no Type"},
		{"parameter without type", "Parameters:\n  P: {Default: x}\nResources:\n  R: {Type: A::B::C}\n", "parameter P: no Type"},
		{"unknown tag", "Resources:\n  R:\n    Type: A::B::C\n    Properties: {V: !Reff X}\n", "unknown tag !Reff"},
		{"GetAtt without attribute", "Resources:\n  R:\n    Type: A::B::C\n    Properties: {V: !GetAtt X}\n", "not Resource.Attribute"},
		{"merge key", "Base: &b {Type: A::B::C}\nResources:\n  R:\n    <<: *b\n", "merge keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseSections(t *testing.T) {
	src := `
Description: test
Parameters:
  Days: {Type: Number, Default: 30, AllowedValues: [7, 30]}
  Token: {Type: String, NoEcho: true, Default: ''}
  Bucket: {Type: String}
Conditions:
  HasToken: !Not [!Equals [!Ref Token, '']]
Resources:
  Shared: &shared
    Type: AWS::SQS::Queue
  Q:
    Type: AWS::SQS::Queue
    Condition: HasToken
    DependsOn: Shared
    Metadata: {checkov: {skip: [{id: CKV_X, comment: why}]}}
    Properties: {VisibilityTimeout: 60}
  Alias: *shared
Outputs:
  QueueUrl: {Description: url, Value: !Ref Q, Condition: HasToken}
`
	tpl, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Description != "test" {
		t.Errorf("Description = %q", tpl.Description)
	}
	wantParams := map[string]Parameter{
		"Days":   {Type: "Number", Default: "30", HasDefault: true, AllowedValues: []string{"7", "30"}},
		"Token":  {Type: "String", Default: "", HasDefault: true, NoEcho: true},
		"Bucket": {Type: "String"},
	}
	if !reflect.DeepEqual(tpl.Parameters, wantParams) {
		t.Errorf("Parameters = %#v, want %#v", tpl.Parameters, wantParams)
	}
	wantCond := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Token"}, ""}}}}
	if !reflect.DeepEqual(tpl.Conditions["HasToken"], wantCond) {
		t.Errorf("Conditions[HasToken] = %#v", tpl.Conditions["HasToken"])
	}
	q := tpl.Resources["Q"]
	if q.Condition != "HasToken" || !reflect.DeepEqual(q.DependsOn, []string{"Shared"}) || q.Properties["VisibilityTimeout"] != 60 {
		t.Errorf("Resources[Q] = %#v", q)
	}
	if _, ok := q.Metadata["checkov"]; !ok {
		t.Errorf("Resources[Q].Metadata lost checkov: %#v", q.Metadata)
	}
	if tpl.Resources["Alias"].Type != "AWS::SQS::Queue" {
		t.Errorf("alias not resolved: %#v", tpl.Resources["Alias"])
	}
	out := tpl.Outputs["QueueUrl"]
	if out.Description != "url" || out.Condition != "HasToken" || !reflect.DeepEqual(out.Value, map[string]any{"Ref": "Q"}) {
		t.Errorf("Outputs[QueueUrl] = %#v", out)
	}
}

const pipeFixture = `
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Code: {S3Bucket: b, S3Key: !Sub '${Prefix}/enrich.zip'}
      Role: !GetAtt FnRole.Arn
      Architectures: [arm64]
      LoggingConfig: {LogGroup: !Ref FnLogs}
      Environment: {Variables: {LOG_LEVEL: info, TABLE: !Ref Table}}
  Bus: {Type: AWS::Events::EventBus}
  DLQ: {Type: AWS::SQS::Queue}
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 360
      RedrivePolicy: '{"deadLetterTargetArn": {"Fn::GetAtt": ["DLQ", "Arn"]}, "maxReceiveCount": 4}'
  Pipe:
    Type: AWS::Pipes::Pipe
    Properties:
      Source: !GetAtt Table.StreamArn
      SourceParameters:
        DynamoDBStreamParameters:
          StartingPosition: LATEST
          BatchSize: 10
          MaximumRetryAttempts: 2
          DeadLetterConfig: {Arn: !GetAtt DLQ.Arn}
        FilterCriteria:
          Filters:
            - Pattern: '{"eventName":["INSERT"]}'
            - Pattern: {eventName: [MODIFY]}
      Enrichment: !GetAtt Fn.Arn
      Target: !GetAtt Bus.Arn
      TargetParameters:
        EventBridgeEventBusParameters: {Source: me, DetailType: $.detailType}
  OnDefault:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: '{"source":["aws.ecr"]}'
      Targets: [{Id: w, Arn: !GetAtt Work.Arn}]
  OnBus:
    Type: AWS::Events::Rule
    Condition: C
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [me]}
      Targets: [{Id: w, Arn: !GetAtt Work.Arn}]
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Work.Arn
      FunctionName: !Ref Fn
      BatchSize: 10
      ScalingConfig: {MaximumConcurrency: 3}
      FunctionResponseTypes: [ReportBatchItemFailures]
`

func TestPipe(t *testing.T) {
	tpl, err := Parse([]byte(pipeFixture))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	want := PipeSpec{
		LogicalID:            "Pipe",
		SourceTable:          "Table",
		Filters:              []string{`{"eventName":["INSERT"]}`, `{"eventName":["MODIFY"]}`},
		StartingPosition:     "LATEST",
		BatchSize:            10,
		MaximumRetryAttempts: 2,
		DeadLetterQueue:      "DLQ",
		Enrichment:           "Fn",
		TargetBus:            "Bus",
		Source:               "me",
		DetailType:           "$.detailType",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Pipe() =\n%#v\nwant\n%#v", got, want)
	}
}

func TestPipeRejects(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		wantErr string
	}{
		{"no pipe", func(s string) string { return strings.Replace(s, "AWS::Pipes::Pipe", "AWS::X::Y", 1) }, "found 0"},
		{"two pipes", func(s string) string { return s + "  Pipe2: {Type: AWS::Pipes::Pipe}\n" }, "found 2"},
		{"source is not a table", func(s string) string { return strings.Replace(s, "!GetAtt Table.StreamArn", "arn:aws:x", 1) }, "source"},
		{"enrichment is not a function", func(s string) string { return strings.Replace(s, "!GetAtt Fn.Arn", "!GetAtt Bus.Arn", 1) }, "enrichment"},
		{"target is not a bus", func(s string) string { return strings.Replace(s, "!GetAtt Bus.Arn", "!GetAtt DLQ.Arn", 1) }, "target"},
		{"filter is not JSON", func(s string) string { return strings.Replace(s, `'{"eventName":["INSERT"]}'`, `'{eventName'`, 1) }, "filter 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := Parse([]byte(tt.edit(pipeFixture)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tpl.Pipe(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Pipe() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBusRules(t *testing.T) {
	tpl, err := Parse([]byte(pipeFixture))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		bus  string
		want []RuleSpec
	}{
		{"default bus by name", "default", []RuleSpec{{LogicalID: "OnDefault", Bus: "default", Pattern: []byte(`{"source":["aws.ecr"]}`), Queue: "Work"}}},
		{"default bus by empty name", "", []RuleSpec{{LogicalID: "OnDefault", Bus: "default", Pattern: []byte(`{"source":["aws.ecr"]}`), Queue: "Work"}}},
		{"custom bus", "Bus", []RuleSpec{{LogicalID: "OnBus", Bus: "Bus", Pattern: []byte(`{"source":["me"]}`), Queue: "Work", Condition: "C"}}},
		{"unknown bus", "Nope", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tpl.BusRules(tt.bus)
			if len(got) != len(tt.want) {
				t.Fatalf("BusRules(%q) = %+v, want %+v", tt.bus, got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.LogicalID != w.LogicalID || g.Bus != w.Bus || g.Queue != w.Queue || g.Condition != w.Condition || !bytes.Equal(g.Pattern, w.Pattern) {
					t.Errorf("rule %d = %+v (pattern %s), want %+v (pattern %s)", i, g, g.Pattern, w, w.Pattern)
				}
			}
		})
	}
}

func TestEventSourceMappingsFunctionsQueues(t *testing.T) {
	tpl, err := Parse([]byte(pipeFixture))
	if err != nil {
		t.Fatal(err)
	}
	wantMappings := []MappingSpec{{LogicalID: "Mapping", Queue: "Work", Function: "Fn", BatchSize: 10, MaximumConcurrency: 3, ReportBatchItemFailures: true}}
	if got := tpl.EventSourceMappings(); !reflect.DeepEqual(got, wantMappings) {
		t.Errorf("EventSourceMappings() = %+v, want %+v", got, wantMappings)
	}
	wantFunctions := []FunctionSpec{{
		LogicalID:     "Fn",
		HandlerDir:    "enrich",
		Environment:   map[string]any{"LOG_LEVEL": "info", "TABLE": map[string]any{"Ref": "Table"}},
		Role:          "FnRole",
		Architectures: []any{"arm64"},
		LogGroup:      "FnLogs",
	}}
	if got := tpl.Functions(); !reflect.DeepEqual(got, wantFunctions) {
		t.Errorf("Functions() = %+v, want %+v", got, wantFunctions)
	}
	wantQueues := []QueueSpec{
		{LogicalID: "DLQ", IsDLQ: true, IsDeliveryDLQ: true}, // the Pipe's DeadLetterConfig
		{LogicalID: "Work", DLQ: "DLQ", MaxReceiveCount: 4, VisibilityTimeout: 360},
	}
	if got := tpl.Queues(); !reflect.DeepEqual(got, wantQueues) {
		t.Errorf("Queues() = %+v, want %+v", got, wantQueues)
	}
}

func TestResourceAttributesAndDeliveryDLQs(t *testing.T) {
	tpl, err := Parse([]byte(`
Resources:
  Key: {Type: AWS::KMS::Key, DeletionPolicy: Retain, UpdateReplacePolicy: Snapshot}
  Odd: {Type: AWS::SQS::Queue, DeletionPolicy: !If [C, Retain, Delete]}
  Work: {Type: AWS::SQS::Queue}
  Parked: {Type: AWS::SQS::Queue}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Targets: [{Id: w, Arn: !GetAtt Work.Arn, DeadLetterConfig: {Arn: !GetAtt Parked.Arn}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if k := tpl.Resources["Key"]; k.DeletionPolicy != "Retain" || k.UpdateReplacePolicy != "Snapshot" {
		t.Errorf("Key policies %q %q, want Retain Snapshot", k.DeletionPolicy, k.UpdateReplacePolicy)
	}
	if o := tpl.Resources["Odd"]; o.DeletionPolicy != "" || o.UpdateReplacePolicy != "" {
		t.Errorf("an intrinsic policy reads %q, want empty", o.DeletionPolicy)
	}
	want := []QueueSpec{{LogicalID: "Odd"}, {LogicalID: "Parked", IsDeliveryDLQ: true}, {LogicalID: "Work"}}
	if got := tpl.Queues(); !reflect.DeepEqual(got, want) {
		t.Errorf("Queues() = %+v, want %+v", got, want)
	}
}

func TestHandlerDir(t *testing.T) {
	tests := []struct {
		name string
		key  any
		want string
	}{
		{"Sub with prefix", map[string]any{"Fn::Sub": "${ArtifactsPrefix}/scan.zip"}, "scan"},
		{"plain key", "artifacts/v1/alert.zip", "alert"},
		{"bare file", "tag.zip", "tag"},
		{"not a zip", "artifacts/scan.tar", ""},
		{"variable file name", map[string]any{"Fn::Sub": "${Prefix}/${Name}.zip"}, ""},
		{"only the extension", "artifacts/.zip", ""},
		{"Ref", map[string]any{"Ref": "Key"}, ""},
		{"absent", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := handlerDir(tt.key); got != tt.want {
				t.Errorf("handlerDir(%#v) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestLogicalID(t *testing.T) {
	tests := []struct {
		name   string
		v      any
		want   string
		wantOK bool
	}{
		{"Ref", map[string]any{"Ref": "Queue"}, "Queue", true},
		{"GetAtt", map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}, "Queue", true},
		{"pseudo parameter", map[string]any{"Ref": "AWS::AccountId"}, "", false},
		{"Sub", map[string]any{"Fn::Sub": "${Queue.Arn}"}, "", false},
		{"literal", "arn:aws:sqs:us-east-1:123456789012:q", "", false},
		{"GetAtt too short", map[string]any{"Fn::GetAtt": []any{"Queue"}}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := logicalID(tt.v)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("logicalID(%#v) = %q, %v; want %q, %v", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestBodyIsACopyOfTheEmbeddedTemplate(t *testing.T) {
	b := Body()
	if !bytes.Equal(b, templateYAML) {
		t.Fatal("Body() differs from the embedded template")
	}
	b[0] ^= 0xff
	if bytes.Equal(b, templateYAML) {
		t.Fatal("writing to Body()'s result changed the embedded template")
	}
}

func TestLoadRoundTripsToJSON(t *testing.T) {
	// A parsed template must be plain data: the local runner marshals parts of
	// it (patterns, policies) to JSON.
	tpl, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range tpl.Resources {
		if _, err := json.Marshal(r.Properties); err != nil {
			t.Errorf("resource %s: properties do not marshal to JSON: %v", id, err)
		}
	}
}
