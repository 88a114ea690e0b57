package stack_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/stack"
)

func load(t *testing.T) *stack.Template {
	t.Helper()
	tpl, err := stack.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return tpl
}

// ofType returns the logical IDs of one resource type, sorted.
func ofType(tpl *stack.Template, typ string) []string {
	var ids []string
	for id, r := range tpl.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// statement is one statement of a policy document, with where it came from.
type statement struct {
	where string
	body  map[string]any
}

func statementsOf(where string, doc any) []statement {
	d, _ := doc.(map[string]any)
	var out []statement
	switch s := d["Statement"].(type) {
	case []any:
		for i, x := range s {
			m, _ := x.(map[string]any)
			out = append(out, statement{where: where + "/" + sidOr(m, i), body: m})
		}
	case map[string]any:
		out = append(out, statement{where: where + "/" + sidOr(s, 0), body: s})
	}
	return out
}

func sidOr(m map[string]any, i int) string {
	if sid, ok := m["Sid"].(string); ok {
		return sid
	}
	return "statement " + strconv.Itoa(i)
}

// identityStatements returns every statement of every role and IAM policy.
func identityStatements(tpl *stack.Template) []statement {
	var out []statement
	for _, id := range ofType(tpl, "AWS::IAM::Role") {
		policies, _ := tpl.Resources[id].Properties["Policies"].([]any)
		for _, p := range policies {
			pm, _ := p.(map[string]any)
			name, _ := pm["PolicyName"].(string)
			out = append(out, statementsOf(id+"/"+name, pm["PolicyDocument"])...)
		}
	}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for _, id := range ofType(tpl, typ) {
			out = append(out, statementsOf(id, tpl.Resources[id].Properties["PolicyDocument"])...)
		}
	}
	return out
}

// resourcePolicyStatements returns the statements of queue, bucket, topic and
// key policies.
func resourcePolicyStatements(tpl *stack.Template) []statement {
	docs := map[string]string{
		"AWS::SQS::QueuePolicy": "PolicyDocument",
		"AWS::S3::BucketPolicy": "PolicyDocument",
		"AWS::SNS::TopicPolicy": "PolicyDocument",
		"AWS::KMS::Key":         "KeyPolicy",
		"AWS::Events::EventBus": "Policy",
	}
	var out []statement
	for typ, prop := range docs {
		for _, id := range ofType(tpl, typ) {
			out = append(out, statementsOf(id, tpl.Resources[id].Properties[prop])...)
		}
	}
	return out
}

// stringsOf reads a policy field that is a string or a list of strings.
// Non-string entries (intrinsic functions) come back as "<intrinsic>".
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsOf(e)...)
		}
		return out
	case nil:
		return nil
	}
	return []string{"<intrinsic>"}
}

func TestEveryFunctionHasARoleOfItsOwn(t *testing.T) {
	tpl := load(t)
	functions := tpl.Functions()
	if len(functions) != 7 {
		t.Fatalf("found %d functions, want 7", len(functions))
	}
	owner := map[string]string{}
	for _, f := range functions {
		if f.Role == "" {
			t.Errorf("%s: role is not a role of this template", f.LogicalID)
			continue
		}
		if typ := tpl.Resources[f.Role].Type; typ != "AWS::IAM::Role" {
			t.Errorf("%s: role %s is a %q", f.LogicalID, f.Role, typ)
		}
		if other, ok := owner[f.Role]; ok {
			t.Errorf("%s and %s share role %s", other, f.LogicalID, f.Role)
		}
		owner[f.Role] = f.LogicalID
	}
	// The Pipe has a role of its own as well.
	pipeRole, _ := tpl.Resources["ScanEventsPipe"].Properties["RoleArn"].(map[string]any)
	if ga, _ := pipeRole["Fn::GetAtt"].([]any); len(ga) != 2 || ga[0] != "PipeRole" {
		t.Errorf("ScanEventsPipe role = %#v, want PipeRole", pipeRole)
	}
	if f, ok := owner["PipeRole"]; ok {
		t.Errorf("function %s uses the Pipe's role", f)
	}
}

func TestNoWildcardActions(t *testing.T) {
	tpl := load(t)
	stmts := identityStatements(tpl)
	if len(stmts) == 0 {
		t.Fatal("found no IAM statements")
	}
	for _, s := range resourcePolicyStatements(tpl) {
		if s.body["Effect"] != "Allow" {
			continue // a Deny with s3:* (TLS only) narrows, never widens
		}
		if s.where == "ScannerKey/AccountGovernsKeyThroughIAM" {
			continue // the default key policy statement: delegates the key to IAM, checked below
		}
		stmts = append(stmts, s)
	}
	for _, s := range stmts {
		if _, ok := s.body["NotAction"]; ok {
			t.Errorf("%s: NotAction allows everything else", s.where)
		}
		actions := stringsOf(s.body["Action"])
		if len(actions) == 0 {
			t.Errorf("%s: no Action", s.where)
		}
		for _, a := range actions {
			if strings.Contains(a, "*") || !strings.Contains(a, ":") {
				t.Errorf("%s: action %q is a wildcard or not service:Action", s.where, a)
			}
		}
	}

	// The key's delegation statement may use kms:* only for the account root.
	for _, s := range statementsOf("ScannerKey", tpl.Resources["ScannerKey"].Properties["KeyPolicy"]) {
		if s.where != "ScannerKey/AccountGovernsKeyThroughIAM" {
			continue
		}
		principal, _ := s.body["Principal"].(map[string]any)
		sub, _ := principal["AWS"].(map[string]any)
		if root, _ := sub["Fn::Sub"].(string); !strings.HasSuffix(root, ":iam::${AWS::AccountId}:root") {
			t.Errorf("%s: principal %#v is not the account root", s.where, principal)
		}
	}
}

// actionsWithoutResourceARN: see starActionDocs (privilege_test.go).
func TestStarResourcesOnlyForActionsWithoutResourceARNs(t *testing.T) {
	tpl := load(t)
	stars := 0
	for _, s := range identityStatements(tpl) {
		if _, ok := s.body["NotResource"]; ok {
			t.Errorf("%s: NotResource", s.where)
		}
		if !slices.Contains(stringsOf(s.body["Resource"]), "*") {
			continue
		}
		stars++
		for _, a := range stringsOf(s.body["Action"]) {
			if !slices.Contains(actionsWithoutResourceARN, a) {
				t.Errorf("%s: %s is granted on \"*\" but takes a resource ARN", s.where, a)
			}
		}
	}
	if stars == 0 {
		t.Error("no statement on \"*\" at all: X-Ray needs one per function, so the walk found nothing")
	}
}

func TestQueuesRedriveToDeadLetterQueues(t *testing.T) {
	tpl := load(t)
	queues := map[string]stack.QueueSpec{}
	for _, q := range tpl.Queues() {
		queues[q.LogicalID] = q
	}
	tests := []struct {
		queue, dlq      string
		maxReceiveCount int
	}{
		{"ScanQueue", "ScanDLQ", 5},
		{"ArchiveQueue", "ArchiveDLQ", 5},
		{"TagQueue", "TagDLQ", 5},
		{"AlertQueue", "AlertDLQ", 5},
		{"SecurityHubQueue", "SecurityHubDLQ", 5},
	}
	for _, tt := range tests {
		t.Run(tt.queue, func(t *testing.T) {
			q, ok := queues[tt.queue]
			if !ok {
				t.Fatalf("no queue %s", tt.queue)
			}
			if q.DLQ != tt.dlq || q.MaxReceiveCount != tt.maxReceiveCount {
				t.Errorf("redrive = %s after %d receives, want %s after %d", q.DLQ, q.MaxReceiveCount, tt.dlq, tt.maxReceiveCount)
			}
		})
	}
	for id, q := range queues {
		switch {
		case (q.IsDLQ || q.IsDeliveryDLQ || parkingQueues[id]) && q.DLQ != "":
			t.Errorf("%s is a dead-letter or parking queue with a dead-letter queue of its own", id)
		case !q.IsDLQ && !q.IsDeliveryDLQ && !parkingQueues[id] && q.DLQ == "":
			t.Errorf("%s has no RedrivePolicy", id)
		case q.DLQ != "" && !queues[q.DLQ].IsDLQ:
			t.Errorf("%s redrives to %s, which is not a queue of this template", id, q.DLQ)
		}
	}
	if p, err := tpl.Pipe(); err != nil || p.DeadLetterQueue != "PipeDLQ" {
		t.Errorf("PipeDLQ is not the Pipe's dead-letter queue (Pipe() = %+v, %v)", p, err)
	}
}

func TestStorageIsEncrypted(t *testing.T) {
	tpl := load(t)
	tests := []struct {
		typ       string
		encrypted func(props map[string]any) bool
	}{
		{"AWS::S3::Bucket", func(p map[string]any) bool {
			enc, _ := p["BucketEncryption"].(map[string]any)
			rules, _ := enc["ServerSideEncryptionConfiguration"].([]any)
			return len(rules) > 0
		}},
		{"AWS::DynamoDB::Table", func(p map[string]any) bool {
			sse, _ := p["SSESpecification"].(map[string]any)
			return sse["SSEEnabled"] == true
		}},
		{"AWS::SNS::Topic", func(p map[string]any) bool { return p["KmsMasterKeyId"] != nil }},
		{"AWS::SQS::Queue", func(p map[string]any) bool {
			return p["KmsMasterKeyId"] != nil || p["SqsManagedSseEnabled"] == true
		}},
		{"AWS::Logs::LogGroup", func(p map[string]any) bool { return p["KmsKeyId"] != nil }},
		{"AWS::SecretsManager::Secret", func(p map[string]any) bool { return p["KmsKeyId"] != nil }},
		{"AWS::KMS::Key", func(p map[string]any) bool { return p["EnableKeyRotation"] == true }},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			ids := ofType(tpl, tt.typ)
			if len(ids) == 0 {
				t.Fatalf("no %s in the template", tt.typ)
			}
			for _, id := range ids {
				if !tt.encrypted(tpl.Resources[id].Properties) {
					t.Errorf("%s is not encrypted", id)
				}
			}
		})
	}
}

func TestPipeReadsTheScansStreamIntoTheBus(t *testing.T) {
	tpl := load(t)
	p, err := tpl.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"source is the ScansTable stream", p.SourceTable == "ScansTable" && isGetAtt(tpl.Resources[p.LogicalID].Properties["Source"], "ScansTable", "StreamArn")},
		{"enrichment is EnrichFunction", p.Enrichment == "EnrichFunction"},
		{"target is ImageScansBus", p.TargetBus == "ImageScansBus"},
		{"retries are bounded", p.MaximumRetryAttempts > 0 && p.MaximumRetryAttempts <= 10},
		{"record age is bounded inside the stream's 24 h", p.MaximumRecordAgeInSeconds >= 60 && p.MaximumRecordAgeInSeconds < 24*3600},
		{"dead-letter queue is PipeDLQ", p.DeadLetterQueue == "PipeDLQ" && tpl.Resources["PipeDLQ"].Type == "AWS::SQS::Queue"},
		{"failing batches are bisected", p.OnPartialBatchItemFailure == "AUTOMATIC_BISECT"},
		{"batch fits one PutEvents call", p.BatchSize >= 1 && p.BatchSize <= 10},
		{"events carry this project's source", p.Source == "ecr-image-scanner"},
		{"detail type is the static events.DetailType", p.DetailType == events.DetailType},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %+v", c.name, p)
		}
	}
	var tableStream map[string]any
	tableStream, _ = tpl.Resources["ScansTable"].Properties["StreamSpecification"].(map[string]any)
	if tableStream["StreamViewType"] != "NEW_AND_OLD_IMAGES" {
		t.Errorf("ScansTable stream view = %v, want NEW_AND_OLD_IMAGES", tableStream["StreamViewType"])
	}
}

func isGetAtt(v any, id, attr string) bool {
	m, _ := v.(map[string]any)
	return reflect.DeepEqual(m["Fn::GetAtt"], []any{id, attr})
}

func TestPipeFilterPassesExactlyThePublishedEventTypes(t *testing.T) {
	p, err := load(t).Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Filters) != 1 {
		t.Fatalf("Pipe has %d filters, want 1", len(p.Filters))
	}
	var pattern struct {
		DynamoDB struct {
			NewImage struct {
				Event struct {
					M struct {
						Type struct {
							S []string `json:"S"`
						} `json:"type"`
					} `json:"M"`
				} `json:"event"`
			} `json:"NewImage"`
		} `json:"dynamodb"`
	}
	if err := json.Unmarshal([]byte(p.Filters[0]), &pattern); err != nil {
		t.Fatalf("filter %s: %v", p.Filters[0], err)
	}
	got := slices.Clone(pattern.DynamoDB.NewImage.Event.M.Type.S)
	var want []string
	for _, et := range domain.PublishedEventTypes {
		want = append(want, string(et))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("filter passes event types %v, domain publishes %v", got, want)
	}
	// Pipes filter a DynamoDB stream on its dynamodb key only (see the
	// template's comment); the NewImage condition alone keeps removals out.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(p.Filters[0]), &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys["dynamodb"] == nil {
		t.Errorf("filter %s has top-level keys other than dynamodb", p.Filters[0])
	}
}

func TestEachHandlerHasItsOwnRuleQueueAndFunction(t *testing.T) {
	tpl := load(t)
	rules := map[string]stack.RuleSpec{}
	for _, r := range tpl.BusRules("ImageScansBus") {
		rules[r.LogicalID] = r
	}
	mappingsByQueue := map[string][]stack.MappingSpec{}
	for _, m := range tpl.EventSourceMappings() {
		mappingsByQueue[m.Queue] = append(mappingsByQueue[m.Queue], m)
	}
	tests := []struct {
		handler    string
		eventTypes []string
	}{
		{"Archive", []string{"ScanCompleted", "ImageReferenced"}},
		{"Tag", []string{"ScanCompleted", "ImageReferenced"}},
		{"Alert", []string{"ScanCompleted", "ImageReferenced", "ScanFailed"}},
		{"SecurityHub", []string{"ScanCompleted", "ImageReferenced"}},
	}
	for _, tt := range tests {
		t.Run(tt.handler, func(t *testing.T) {
			rule, ok := rules[tt.handler+"Rule"]
			if !ok {
				t.Fatalf("no %sRule on ImageScansBus", tt.handler)
			}
			if rule.Queue != tt.handler+"Queue" {
				t.Errorf("%s targets %q, want %sQueue", rule.LogicalID, rule.Queue, tt.handler)
			}
			assertRoutesOnEventType(t, rule, tt.eventTypes)
			mappings := mappingsByQueue[rule.Queue]
			if len(mappings) != 1 {
				t.Fatalf("%s feeds %d functions, want 1", rule.Queue, len(mappings))
			}
			m := mappings[0]
			if m.Function != tt.handler+"Function" || m.LogicalID != tt.handler+"EventSourceMapping" {
				t.Errorf("%s feeds %s through %s", rule.Queue, m.Function, m.LogicalID)
			}
			if m.BatchSize != 10 || !m.ReportBatchItemFailures || m.MaximumConcurrency < 2 || m.MaximumBatchingWindowInSeconds < 1 {
				t.Errorf("mapping %+v: want batch 10, partial batch failures, a batching window and a concurrency cap", m)
			}
			assertQueueAcceptsOnly(t, tpl, tt.handler+"QueuePolicy", rule.Queue, rule.LogicalID)
		})
	}
	if len(rules) != len(tests)+1 {
		t.Errorf("ImageScansBus has %d rules, want %d and RejectedRecordsRule: a new handler needs a case here", len(rules), len(tests))
	}
	if alert, archive := mappingsByQueue["AlertQueue"], mappingsByQueue["ArchiveQueue"]; len(alert) == 1 && len(archive) == 1 &&
		alert[0].MaximumConcurrency >= archive[0].MaximumConcurrency {
		t.Errorf("AlertEventSourceMapping concurrency %d is not below archive's %d (SNS limits)", alert[0].MaximumConcurrency, archive[0].MaximumConcurrency)
	}
}

// assertRoutesOnEventType checks that a rule on the image-scans bus takes
// exactly this project's events of the given detail.eventType values, and
// nothing by detail-type: schema 2 events all share one detail-type, and the
// schema 1 events the archive replays have others (events.SchemaVersion).
func assertRoutesOnEventType(t *testing.T, rule stack.RuleSpec, eventTypes []string) {
	t.Helper()
	var pattern map[string]json.RawMessage
	if err := json.Unmarshal(rule.Pattern, &pattern); err != nil {
		t.Fatalf("pattern %s: %v", rule.Pattern, err)
	}
	var source []string
	var detail struct {
		EventType []string `json:"eventType"`
	}
	_ = json.Unmarshal(pattern["source"], &source)
	_ = json.Unmarshal(pattern["detail"], &detail)
	if len(pattern) != 2 || !slices.Equal(source, []string{events.Source}) || !slices.Equal(detail.EventType, eventTypes) {
		t.Errorf("%s pattern %s, want only source [%s] and detail.eventType %q", rule.LogicalID, rule.Pattern, events.Source, eventTypes)
	}
}

// parkingQueues are rule targets no function reads: what arrives waits for
// an operator, like dead letters, and raises an alarm.
var parkingQueues = map[string]bool{"RejectedRecordsQueue": true}

// The enrichment's rejections (RecordRejected) go to RejectedRecordsQueue,
// kept 14 days and watched by an alarm; no handler's rule takes them.
func TestRejectedRecordsAreParkedAndWatched(t *testing.T) {
	tpl := load(t)
	var rejection stack.RuleSpec
	for _, r := range tpl.BusRules("ImageScansBus") {
		var p struct {
			Detail struct {
				EventType []string `json:"eventType"`
			} `json:"detail"`
		}
		_ = json.Unmarshal(r.Pattern, &p)
		if slices.Contains(p.Detail.EventType, string(events.EventRecordRejected)) {
			if r.LogicalID != "RejectedRecordsRule" {
				t.Errorf("%s takes RecordRejected events: %s", r.LogicalID, r.Pattern)
			}
			rejection = r
		}
	}
	if rejection.LogicalID == "" {
		t.Fatal("no rule takes RecordRejected events")
	}
	assertRoutesOnEventType(t, rejection, []string{string(events.EventRecordRejected)})
	if rejection.Queue != "RejectedRecordsQueue" {
		t.Errorf("rejections go to %q", rejection.Queue)
	}
	assertQueueAcceptsOnly(t, tpl, "RejectedRecordsQueuePolicy", "RejectedRecordsQueue", "RejectedRecordsRule")
	q := tpl.Resources["RejectedRecordsQueue"]
	if q.DeletionPolicy != "RetainExceptOnCreate" || q.UpdateReplacePolicy != "Retain" {
		t.Errorf("RejectedRecordsQueue deletion %q, replacement %q; want RetainExceptOnCreate and Retain", q.DeletionPolicy, q.UpdateReplacePolicy)
	}
	if mr, _ := q.Properties["MessageRetentionPeriod"].(int); mr != 1209600 || !reflect.DeepEqual(q.Properties["KmsMasterKeyId"], getAtt("ScannerKey", "Arn")) {
		t.Errorf("RejectedRecordsQueue keeps messages %d s, key %#v; want 1209600 s under ScannerKey", mr, q.Properties["KmsMasterKeyId"])
	}
	for id := range parkingQueues {
		if !slices.ContainsFunc(tpl.Queues(), func(s stack.QueueSpec) bool { return s.LogicalID == id }) {
			t.Errorf("parking queue %s is not a queue of the template", id)
		}
		alarmed := false
		for _, a := range findAlarms(tpl, "AWS/SQS", "ApproximateNumberOfMessagesVisible") {
			alarmed = alarmed || reflect.DeepEqual(dimensionsOf(a)["QueueName"], getAtt(id, "QueueName"))
		}
		if !alarmed {
			t.Errorf("no alarm on parking queue %s", id)
		}
	}
}

func TestScanTriggerRulesFeedTheScanFunction(t *testing.T) {
	tpl := load(t)
	tests := []struct {
		rule, condition, detailType string
	}{
		{"ScanTriggerRule", "UseEcrEventTrigger", "ECR Image Action"},
		{"CloudTrailScanTriggerRule", "UseCloudTrailTrigger", "AWS API Call via CloudTrail"},
	}
	rules := map[string]stack.RuleSpec{}
	for _, r := range tpl.BusRules("default") {
		rules[r.LogicalID] = r
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			r, ok := rules[tt.rule]
			if !ok {
				t.Fatalf("no %s on the default bus", tt.rule)
			}
			if r.Queue != "ScanQueue" || r.Condition != tt.condition {
				t.Errorf("%s: queue %q condition %q, want ScanQueue under %s", tt.rule, r.Queue, r.Condition, tt.condition)
			}
			var pattern struct {
				Source     []string `json:"source"`
				DetailType []string `json:"detail-type"`
			}
			if err := json.Unmarshal(r.Pattern, &pattern); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pattern.Source, []string{"aws.ecr"}) || !slices.Equal(pattern.DetailType, []string{tt.detailType}) {
				t.Errorf("pattern %s", r.Pattern)
			}
		})
	}
	var scan []stack.MappingSpec
	for _, m := range tpl.EventSourceMappings() {
		if m.Queue == "ScanQueue" {
			scan = append(scan, m)
		}
	}
	if len(scan) != 1 || scan[0].Function != "ScanFunction" || scan[0].BatchSize != 1 || !scan[0].ReportBatchItemFailures || scan[0].MaximumConcurrency < 2 {
		t.Errorf("ScanQueue mappings = %+v, want one to ScanFunction, batch 1, partial failures, capped concurrency", scan)
	}
}

func TestEveryQueueFeedsAtMostOneFunction(t *testing.T) {
	tpl := load(t)
	feeds := map[string]int{}
	for _, m := range tpl.EventSourceMappings() {
		feeds[m.Queue]++
	}
	for _, q := range tpl.Queues() {
		want := 1
		if q.IsDLQ || q.IsDeliveryDLQ || parkingQueues[q.LogicalID] {
			want = 0 // dead letters and parked events wait for an operator
		}
		if feeds[q.LogicalID] != want {
			t.Errorf("%s feeds %d functions, want %d", q.LogicalID, feeds[q.LogicalID], want)
		}
	}
}

// assertQueueAcceptsOnly checks that the queue policy lets EventBridge send
// from the one rule only.
func assertQueueAcceptsOnly(t *testing.T, tpl *stack.Template, policyID, queue, rule string) {
	t.Helper()
	p, ok := tpl.Resources[policyID]
	if !ok || p.Type != "AWS::SQS::QueuePolicy" {
		t.Errorf("no queue policy %s", policyID)
		return
	}
	queues, _ := p.Properties["Queues"].([]any)
	if len(queues) != 1 || !reflect.DeepEqual(queues[0], map[string]any{"Ref": queue}) {
		t.Errorf("%s applies to %#v, want only %s", policyID, queues, queue)
	}
	for _, s := range statementsOf(policyID, p.Properties["PolicyDocument"]) {
		cond, _ := s.body["Condition"].(map[string]any)
		arnEquals, _ := cond["ArnEquals"].(map[string]any)
		if !isGetAtt(arnEquals["aws:SourceArn"], rule, "Arn") {
			t.Errorf("%s: source is %#v, want %s", s.where, arnEquals["aws:SourceArn"], rule)
		}
	}
}

func TestSeedParametersKeepTheSeedsDefaults(t *testing.T) {
	tpl := load(t)
	tests := []struct {
		name, def string
	}{
		{"QualysPod", "US2"},
		{"QualysAccessToken", ""},
		{"ScanTypes", "pkg,secret"},
		{"CacheTTLDays", "30"},
		{"LambdaMemorySize", "2048"},
		{"LambdaTimeout", "900"},
		{"EnableAlerts", "true"},
		{"AlertEmail", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := tpl.Parameters[tt.name]
			if !ok {
				t.Fatalf("no parameter %s", tt.name)
			}
			if !p.HasDefault || p.Default != tt.def {
				t.Errorf("default = %q (has default: %v), want %q", p.Default, p.HasDefault, tt.def)
			}
			if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, p.Default) {
				t.Errorf("default %q is not among the allowed values %v", p.Default, p.AllowedValues)
			}
		})
	}
	if !tpl.Parameters["QualysAccessToken"].NoEcho {
		t.Error("QualysAccessToken is not NoEcho")
	}
	pods := []string{"US1", "US2", "US3", "US4", "EU1", "EU2", "EU3", "IN1", "CA1", "AE1", "UK1", "AU1", "KSA1"}
	if got := tpl.Parameters["QualysPod"].AllowedValues; !slices.Equal(got, pods) {
		t.Errorf("QualysPod allows %v, want %v", got, pods)
	}
}

func TestFunctionsAreWiredAsTheHandlersExpect(t *testing.T) {
	tpl := load(t)
	tests := []struct {
		id, dir string
		arch    any
		env     []string
	}{
		{"ScanFunction", "scan", map[string]any{"Ref": "ScanArchitecture"}, []string{
			"SCANS_TABLE", "REPORTS_BUCKET", "QUALYS_POD", "QUALYS_TOKEN_SECRET_ARN", "QUALYS_TOKEN_SECRET_KEY", "SCAN_TYPES",
			"CACHE_TTL_DAYS", "SCAN_PLATFORMS", "QSCANNER_BIN", "MAX_SCAN_ATTEMPTS", "DLQ_URL",
			"SPOKE_ROLE_NAME", "HUB_ACCOUNT", "MEMBER_ACCOUNTS", "SERVED_REGIONS"}},
		{"EnrichFunction", "enrich", "arm64", []string{"SCANS_TABLE_ARN"}},
		{"ArchiveFunction", "archive", "arm64", []string{"RESULTS_BUCKET", "IDEMPOTENCY_TABLE", "DLQ_URL", "CACHE_TTL_DAYS"}},
		{"TagFunction", "tag", "arm64", []string{"IDEMPOTENCY_TABLE", "DLQ_URL", "CACHE_TTL_DAYS", "RESULTS_BUCKET", "SPOKE_ROLE_NAME", "HUB_ACCOUNT"}},
		{"AlertFunction", "alert", "arm64", []string{
			"TOPIC_ARN", "RESULTS_BUCKET", "IDEMPOTENCY_TABLE", "MIN_ALERT_SEVERITY", "ALERT_ON_SECRETS", "ALERT_FIXABLE_ONLY", "ENABLE_ALERTS", "DLQ_URL", "CACHE_TTL_DAYS"}},
		{"SecurityHubFunction", "securityhub", "arm64", []string{"RESULTS_BUCKET", "IDEMPOTENCY_TABLE", "DLQ_URL", "PRODUCT_ARN", "IDEMPOTENCY_LEASE", "CACHE_TTL_DAYS", "ORGANIZATION_ID", "SPOKE_ROLE_NAME", "HUB_ACCOUNT"}},
	}
	functions := map[string]stack.FunctionSpec{}
	for _, f := range tpl.Functions() {
		functions[f.LogicalID] = f
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			f, ok := functions[tt.id]
			if !ok {
				t.Fatalf("no function %s", tt.id)
			}
			if f.HandlerDir != tt.dir {
				t.Errorf("handler dir %q, want %q", f.HandlerDir, tt.dir)
			}
			if len(f.Architectures) != 1 || !reflect.DeepEqual(f.Architectures[0], tt.arch) {
				t.Errorf("architectures %#v, want [%#v]", f.Architectures, tt.arch)
			}
			var keys []string
			for k := range f.Environment {
				keys = append(keys, k)
			}
			if !slices.Equal(slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(tt.env))) {
				t.Errorf("environment %v, want %v", slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(tt.env)))
			}
			p := tpl.Resources[tt.id].Properties
			if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
				t.Errorf("runtime %v handler %v, want provided.al2023 bootstrap", p["Runtime"], p["Handler"])
			}
			if tracing, _ := p["TracingConfig"].(map[string]any); tracing["Mode"] != "Active" {
				t.Errorf("tracing %#v, want Active", p["TracingConfig"])
			}
			if f.LogGroup != strings.TrimSuffix(tt.id, "Function")+"LogGroup" {
				t.Errorf("logs to %q, want its own log group", f.LogGroup)
			}
			if lg := tpl.Resources[f.LogGroup]; lg.Properties["RetentionInDays"] == nil {
				t.Errorf("log group %s keeps logs forever", f.LogGroup)
			}
		})
	}
	scan := tpl.Resources["ScanFunction"].Properties
	if !reflect.DeepEqual(scan["Layers"], []any{map[string]any{"Ref": "QScannerLayer"}}) {
		t.Errorf("ScanFunction layers = %#v, want QScannerLayer", scan["Layers"])
	}
	if storage, _ := scan["EphemeralStorage"].(map[string]any); storage["Size"] != 10240 {
		t.Errorf("ScanFunction ephemeral storage = %#v, want 10240", scan["EphemeralStorage"])
	}
	if functions["ScanFunction"].Environment["QSCANNER_BIN"] != "/opt/bin/qscanner" {
		t.Errorf("QSCANNER_BIN = %#v", functions["ScanFunction"].Environment["QSCANNER_BIN"])
	}
}

// A queue's visibility timeout must outlast its function, or SQS hands a
// message to a second invocation while the first still works on it.
// A variable in a function's Environment that none of the code the function
// links reads is a setting that silently does nothing (as LOG_LEVEL did: the
// level is LoggingConfig's ApplicationLogLevel, which lambdacontext's logger
// follows through AWS_LAMBDA_LOG_LEVEL). Every name must occur as a string
// literal in the non-test Go files of the function's handler folder or of
// the module's packages it imports; how the code reads it (lambdaenv,
// os.Getenv, a named constant) is its own business.
func TestEveryFunctionVariableIsReadByItsCode(t *testing.T) {
	tpl := load(t)
	root := moduleRoot(t)
	for _, f := range tpl.Functions() {
		t.Run(f.LogicalID, func(t *testing.T) {
			if f.HandlerDir == "" {
				t.Fatal("no handler folder: cannot tell which code reads its environment")
			}
			read := envNamesIn(t, root, "./handlers/"+f.HandlerDir)
			for name := range f.Environment {
				if !read[name] {
					t.Errorf("environment variable %s is read by no code of handlers/%s: remove it or read it", name, f.HandlerDir)
				}
			}
		})
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v %s", err, out)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// envNamesIn returns the string literals shaped like environment variable
// names in the non-test Go files of pkg and of the module packages it
// imports, directly or not.
func envNamesIn(t *testing.T, root, pkg string) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{end}}`, pkg)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		if !strings.HasPrefix(parts[0], root+string(filepath.Separator)) {
			continue // another module's package
		}
		for _, name := range parts[1:] {
			file, err := parser.ParseFile(fset, filepath.Join(parts[0], name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(v) {
						names[v] = true
					}
				}
				return true
			})
		}
	}
	return names
}

func TestQueueVisibilityOutlastsTheFunction(t *testing.T) {
	tpl := load(t)
	timeoutOf := map[string]int{}
	for _, m := range tpl.EventSourceMappings() {
		if to, ok := tpl.Resources[m.Function].Properties["Timeout"].(int); ok {
			timeoutOf[m.Queue] = to
		}
	}
	for _, q := range tpl.Queues() {
		if q.LogicalID == "ScanQueue" || q.IsDLQ || q.IsDeliveryDLQ || parkingQueues[q.LogicalID] {
			continue
		}
		vis, _ := q.VisibilityTimeout.(int)
		if timeoutOf[q.LogicalID] == 0 || vis < 6*timeoutOf[q.LogicalID] {
			t.Errorf("%s: visibility %d s, function timeout %d s, want at least six times", q.LogicalID, vis, timeoutOf[q.LogicalID])
		}
	}

	// The scan queue's timeout comes from a mapping keyed by LambdaTimeout's
	// allowed values.
	wantVis := map[string]any{"Fn::FindInMap": []any{"ScanQueueVisibility", map[string]any{"Ref": "LambdaTimeout"}, "Seconds"}}
	if got := tpl.Resources["ScanQueue"].Properties["VisibilityTimeout"]; !reflect.DeepEqual(got, wantVis) {
		t.Errorf("ScanQueue visibility = %#v, want %#v", got, wantVis)
	}
	mapping, _ := tpl.Mappings["ScanQueueVisibility"].(map[string]any)
	allowed := tpl.Parameters["LambdaTimeout"].AllowedValues
	if len(allowed) == 0 || len(mapping) != len(allowed) {
		t.Fatalf("ScanQueueVisibility has %d entries for %d allowed LambdaTimeout values", len(mapping), len(allowed))
	}
	for _, a := range allowed {
		entry, _ := mapping[a].(map[string]any)
		secs, _ := entry["Seconds"].(int)
		var timeout int
		if err := json.Unmarshal([]byte(a), &timeout); err != nil {
			t.Fatalf("LambdaTimeout allows %q: %v", a, err)
		}
		if secs != 6*timeout || secs > 43200 {
			t.Errorf("ScanQueueVisibility[%s] = %d, want %d (at most SQS's 43200)", a, secs, 6*timeout)
		}
	}
}

func TestAlarmsCoverEveryDLQAndFunction(t *testing.T) {
	tpl := load(t)
	watched := map[string]bool{}
	for _, id := range ofType(tpl, "AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		if !reflect.DeepEqual(p["AlarmActions"], []any{map[string]any{"Ref": "AlertTopic"}}) {
			t.Errorf("%s alarms %#v, want AlertTopic", id, p["AlarmActions"])
		}
		dims, _ := p["Dimensions"].([]any)
		for _, d := range dims {
			dm, _ := d.(map[string]any)
			v, _ := dm["Value"].(map[string]any)
			if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				watched[ga[0].(string)+"/"+p["MetricName"].(string)] = true
			}
			if ref, ok := v["Ref"].(string); ok {
				watched[ref+"/"+p["MetricName"].(string)] = true
			}
		}
	}
	for _, q := range tpl.Queues() {
		if (q.IsDLQ || q.IsDeliveryDLQ) && !watched[q.LogicalID+"/ApproximateNumberOfMessagesVisible"] {
			t.Errorf("no alarm on dead-letter queue %s", q.LogicalID)
		}
	}
	for _, f := range tpl.Functions() {
		if !watched[f.LogicalID+"/Errors"] {
			t.Errorf("no Errors alarm on %s", f.LogicalID)
		}
	}
}

func TestLogicalIDsOtherCodeReads(t *testing.T) {
	tpl := load(t)
	want := map[string]string{
		"ScansTable":        "AWS::DynamoDB::Table",
		"IdempotencyTable":  "AWS::DynamoDB::Table",
		"ResultsBucket":     "AWS::S3::Bucket",
		"AlertTopic":        "AWS::SNS::Topic",
		"QualysTokenSecret": "AWS::SecretsManager::Secret",
		"ImageScansBus":     "AWS::Events::EventBus",
		"ImageScansArchive": "AWS::Events::Archive",
		"ScanEventsPipe":    "AWS::Pipes::Pipe",
		"QScannerLayer":     "AWS::Lambda::LayerVersion",
		"Dashboard":         "AWS::CloudWatch::Dashboard",
		"ScanQueue":         "AWS::SQS::Queue",
		"PipeDLQ":           "AWS::SQS::Queue",
	}
	for id, typ := range want {
		if got := tpl.Resources[id].Type; got != typ {
			t.Errorf("%s is %q, want %s", id, got, typ)
		}
	}
	bus, _ := tpl.Resources["ImageScansBus"].Properties["Name"].(map[string]any)
	if bus["Fn::Sub"] != "${AWS::StackName}-image-scans" {
		t.Errorf("ImageScansBus name = %#v", bus)
	}
}

// A function parks permanent failures in the dead-letter queue of the queue
// that feeds it, and may send to no other queue.
func TestFunctionsParkInTheirOwnDeadLetterQueue(t *testing.T) {
	tpl := load(t)
	dlqOf := map[string]string{}
	for _, q := range tpl.Queues() {
		dlqOf[q.LogicalID] = q.DLQ
	}
	functions := map[string]stack.FunctionSpec{}
	for _, f := range tpl.Functions() {
		functions[f.LogicalID] = f
	}
	mappings := tpl.EventSourceMappings()
	if len(mappings) == 0 {
		t.Fatal("no event source mappings")
	}
	for _, m := range mappings {
		t.Run(m.Function, func(t *testing.T) {
			dlq := dlqOf[m.Queue]
			f := functions[m.Function]
			if dlq == "" {
				t.Fatalf("%s has no dead-letter queue", m.Queue)
			}
			if want := map[string]any{"Ref": dlq}; !reflect.DeepEqual(f.Environment["DLQ_URL"], want) {
				t.Errorf("DLQ_URL = %#v, want %#v", f.Environment["DLQ_URL"], want)
			}
			var sendsTo []any
			for _, s := range identityStatements(tpl) {
				if !strings.HasPrefix(s.where, f.Role+"/") || !slices.Contains(stringsOf(s.body["Action"]), "sqs:SendMessage") {
					continue
				}
				sendsTo = append(sendsTo, s.body["Resource"])
			}
			want := []any{map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}}}
			if !reflect.DeepEqual(sendsTo, want) {
				t.Errorf("%s may send to %#v, want only %s", f.Role, sendsTo, dlq)
			}
		})
	}
}

// The Security Hub handler can be left out (EnableSecurityHub=false) as a
// whole, and may import findings only as the account's own default product
// and change no more of a finding than its workflow status.
func TestSecurityHubIsOptionalAndNarrow(t *testing.T) {
	tpl := load(t)
	p, ok := tpl.Parameters["EnableSecurityHub"]
	if !ok || p.Default != "true" || !slices.Equal(p.AllowedValues, []string{"true", "false"}) {
		t.Errorf("EnableSecurityHub = %+v, want default true of true/false", p)
	}
	want := map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "EnableSecurityHub"}, "true"}}
	if got := tpl.Conditions["UseSecurityHub"]; !reflect.DeepEqual(got, want) {
		t.Errorf("UseSecurityHub = %#v, want %#v", got, want)
	}
	n := 0
	for id, r := range tpl.Resources {
		if strings.HasPrefix(id, "SecurityHub") {
			n++
			if r.Condition != "UseSecurityHub" {
				t.Errorf("%s has condition %q, want UseSecurityHub", id, r.Condition)
			}
		}
	}
	if n != 14 {
		t.Errorf("%d SecurityHub resources, want 14 (rule, its DLQ and DLQ policy, queue, DLQ, queue policy, log group, role, function, mapping, four alarms)", n)
	}
	for id, o := range tpl.Outputs {
		if strings.HasPrefix(id, "SecurityHub") && o.Condition != "UseSecurityHub" {
			t.Errorf("output %s has condition %q, want UseSecurityHub", id, o.Condition)
		}
	}

	product := map[string]any{"Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"}
	var fn stack.FunctionSpec
	for _, f := range tpl.Functions() {
		if f.LogicalID == "SecurityHubFunction" {
			fn = f
		}
	}
	if !reflect.DeepEqual(fn.Environment["PRODUCT_ARN"], product) {
		t.Errorf("PRODUCT_ARN = %#v, want %#v", fn.Environment["PRODUCT_ARN"], product)
	}
	granted := map[string]statement{}
	for _, s := range identityStatements(tpl) {
		if strings.HasPrefix(s.where, "SecurityHubRole/") {
			for _, a := range stringsOf(s.body["Action"]) {
				if strings.HasPrefix(a, "securityhub:") {
					granted[a] = s
				}
			}
		}
		if !strings.HasPrefix(s.where, "SecurityHubRole/") && strings.Contains(fmt.Sprint(s.body["Action"]), "securityhub:") {
			t.Errorf("%s grants Security Hub actions; only SecurityHubRole may", s.where)
		}
	}
	if got := slices.Sorted(maps.Keys(granted)); !slices.Equal(got, []string{"securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings", "securityhub:GetFindings"}) {
		t.Errorf("SecurityHubRole may call %v", got)
	}
	if r := granted["securityhub:BatchImportFindings"].body["Resource"]; !reflect.DeepEqual(r, product) {
		t.Errorf("BatchImportFindings granted on %#v, want only the default product %#v", r, product)
	}
}

// The scan queue must outlast the scan's own attempts, so that a crash loop
// (every attempt dying holding its lease) still reaches the receive at which
// the record gives up and says ScanFailed, rather than vanishing into the DLQ.
// IAM matches the scan role's grants against the secret's full ARN, whose
// last part is the name, a hyphen and six random characters; a partial ARN
// deploys and then fails every scan with AccessDenied.
func TestTokenSecretParametersTakeOnlyWhatIAMMatches(t *testing.T) {
	tpl := load(t)
	tests := []struct {
		param, value string
		ok           bool
	}{
		{"QualysTokenSecretArn", "", true},
		{"QualysTokenSecretArn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qualys/token-AbC123", true},
		{"QualysTokenSecretArn", "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:token-a1b2c3", true},
		{"QualysTokenSecretArn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qualys/token", false},
		{"QualysTokenSecretArn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qualys-token-AbC12", false},
		{"QualysTokenSecretArn", "qualys/token", false},
		{"QualysTokenSecretKmsKeyArn", "", true},
		{"QualysTokenSecretKmsKeyArn", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"QualysTokenSecretKmsKeyArn", "arn:aws:kms:eu-west-1:123456789012:alias/qualys", false},
		{"QualysTokenSecretKmsKeyArn", "1234abcd-12ab-34cd-56ef-1234567890ab", false},
	}
	for _, tt := range tests {
		t.Run(tt.param+"="+tt.value, func(t *testing.T) {
			p, ok := tpl.Parameters[tt.param]
			if !ok {
				t.Fatalf("no parameter %s", tt.param)
			}
			if p.HasDefault && p.Default != "" {
				t.Errorf("default %q, want empty (optional)", p.Default)
			}
			// CloudFormation matches AllowedPattern against the whole value.
			re := regexp.MustCompile("^(?:" + p.AllowedPattern + ")$")
			if got := re.MatchString(tt.value); got != tt.ok {
				t.Errorf("%s accepts %q: %v, want %v", tt.param, tt.value, got, tt.ok)
			}
		})
	}
}

// An existing secret may be encrypted with a key of its own: the scan role
// may decrypt with it, but only through Secrets Manager and only for the
// token secret, the one whose value it may read.
func TestScanRoleDecryptsTheTokenSecretsKeyOnlyThroughSecretsManager(t *testing.T) {
	tpl := load(t)
	var read, decrypt map[string]any
	for _, s := range identityStatements(tpl) {
		if !strings.HasPrefix(s.where, "ScanRole/") {
			continue
		}
		if slices.Contains(stringsOf(s.body["Action"]), "secretsmanager:GetSecretValue") {
			read = s.body
		}
		if strings.HasSuffix(s.where, "/DecryptQualysTokenSecret") {
			decrypt = s.body
		}
	}
	if read == nil || decrypt == nil {
		t.Fatalf("ScanRole: GetSecretValue statement %v, DecryptQualysTokenSecret %v", read, decrypt)
	}
	if !slices.Equal(stringsOf(decrypt["Action"]), []string{"kms:Decrypt"}) || decrypt["Effect"] != "Allow" {
		t.Errorf("actions %v effect %v, want kms:Decrypt allowed", decrypt["Action"], decrypt["Effect"])
	}
	wantResource := map[string]any{"Fn::If": []any{"HasTokenSecretKmsKey",
		map[string]any{"Ref": "QualysTokenSecretKmsKeyArn"}, getAtt("ScannerKey", "Arn")}}
	if !reflect.DeepEqual(decrypt["Resource"], wantResource) {
		t.Errorf("resource %#v, want the given key (or ScannerKey)", decrypt["Resource"])
	}
	cond, _ := decrypt["Condition"].(map[string]any)
	eq, _ := cond["StringEquals"].(map[string]any)
	if !reflect.DeepEqual(eq["kms:ViaService"], map[string]any{"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}) {
		t.Errorf("kms:ViaService %#v, want Secrets Manager in the stack's region", eq["kms:ViaService"])
	}
	if !reflect.DeepEqual(eq["kms:EncryptionContext:SecretARN"], read["Resource"]) {
		t.Errorf("SecretARN context %#v, want the secret the role reads (%#v)", eq["kms:EncryptionContext:SecretARN"], read["Resource"])
	}
	if c, ok := tpl.Conditions["HasTokenSecretKmsKey"]; !ok || !mentions(c, map[string]any{"Ref": "QualysTokenSecretKmsKeyArn"}) {
		t.Errorf("condition HasTokenSecretKmsKey %#v does not test QualysTokenSecretKmsKeyArn", c)
	}
}

// Every function logs to a group encrypted with ScannerKey. A role that
// lacks a KMS action the other log-writing roles hold on the key is the odd
// one out (as the enrichment role was, without kms:GenerateDataKey); each
// must hold at least Decrypt and GenerateDataKey on it.
func TestRolesWritingToEncryptedLogGroupsHoldTheKeysActions(t *testing.T) {
	tpl := load(t)
	key := getAtt("ScannerKey", "Arn")
	// actionsOnKey: role -> KMS actions an Allow statement grants on the key.
	actionsOnKey := map[string]map[string]bool{}
	for _, f := range tpl.Functions() {
		lg, ok := tpl.Resources[f.LogGroup]
		if !ok || !reflect.DeepEqual(lg.Properties["KmsKeyId"], key) {
			continue
		}
		role, _ := tpl.Resources[f.LogicalID].Properties["Role"].(map[string]any)
		ref, _ := role["Fn::GetAtt"].([]any)
		if len(ref) != 2 {
			t.Errorf("%s: role %#v is not a GetAtt of a role in the template", f.LogicalID, role)
			continue
		}
		roleID, _ := ref[0].(string)
		actionsOnKey[roleID] = map[string]bool{}
		for _, s := range identityStatements(tpl) {
			if !strings.HasPrefix(s.where, roleID+"/") || s.body["Effect"] != "Allow" || !reflect.DeepEqual(s.body["Resource"], key) {
				continue
			}
			for _, a := range stringsOf(s.body["Action"]) {
				if strings.HasPrefix(a, "kms:") {
					actionsOnKey[roleID][a] = true
				}
			}
		}
	}
	if len(actionsOnKey) < 2 {
		t.Fatalf("only %d roles write to log groups encrypted with ScannerKey", len(actionsOnKey))
	}
	for roleID, has := range actionsOnKey {
		need := map[string]bool{"kms:Decrypt": true, "kms:GenerateDataKey": true}
		// What every other log-writing role holds, this one needs too.
		first := true
		common := map[string]bool{}
		for other, theirs := range actionsOnKey {
			if other == roleID {
				continue
			}
			for a := range common {
				if !theirs[a] {
					delete(common, a)
				}
			}
			if first {
				maps.Copy(common, theirs)
				first = false
			}
		}
		maps.Copy(need, common)
		for a := range need {
			if !has[a] {
				t.Errorf("%s writes to a log group encrypted with ScannerKey but lacks %s on the key (the other roles hold %v)", roleID, a, slices.Sorted(maps.Keys(common)))
			}
		}
	}
}

func TestScanQueueOutlastsTheScanAttempts(t *testing.T) {
	tpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	var receives int
	for _, q := range tpl.Queues() {
		if q.LogicalID == "ScanQueue" {
			receives = q.MaxReceiveCount
		}
	}
	var attempts int
	for _, f := range tpl.Functions() {
		if f.LogicalID == "ScanFunction" {
			fmt.Sscan(fmt.Sprint(f.Environment["MAX_SCAN_ATTEMPTS"]), &attempts)
		}
	}
	if attempts <= 0 || receives <= attempts {
		t.Errorf("scan queue redrives after %d receives, MAX_SCAN_ATTEMPTS is %d; want more receives than attempts", receives, attempts)
	}
}

// mentions reports whether v, a raw template value, contains want anywhere
// (as a map or list element, or inside an intrinsic function).
func mentions(v, want any) bool {
	if reflect.DeepEqual(v, want) {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if mentions(e, want) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if mentions(e, want) {
				return true
			}
		}
	}
	return false
}

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

// Every target of every rule (the scan rules on the default bus, the handler
// rules on the image-scans bus) must park what it cannot deliver in a
// dead-letter queue the rule may write to, after an explicit retry policy:
// without one EventBridge drops the event.
func TestEveryRuleTargetHasADeadLetterQueueAndRetryPolicy(t *testing.T) {
	tpl := load(t)
	rules := ofType(tpl, "AWS::Events::Rule")
	if len(rules) < 6 {
		t.Fatalf("found %d rules, want the two scan rules and four handler rules", len(rules))
	}
	for _, id := range rules {
		rule := tpl.Resources[id]
		targets, _ := rule.Properties["Targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("%s has no targets", id)
		}
		for i, x := range targets {
			target, _ := x.(map[string]any)
			where := fmt.Sprintf("%s/target %d (%v)", id, i, target["Id"])
			retry, _ := target["RetryPolicy"].(map[string]any)
			attempts, okA := retry["MaximumRetryAttempts"].(int)
			age, okE := retry["MaximumEventAgeInSeconds"].(int)
			if !okA || !okE || attempts < 0 || attempts > 185 || age < 60 || age > 86400 {
				t.Errorf("%s: RetryPolicy %#v, want both MaximumRetryAttempts (0-185) and MaximumEventAgeInSeconds (60-86400)", where, target["RetryPolicy"])
			}
			dlc, _ := target["DeadLetterConfig"].(map[string]any)
			arn, _ := dlc["Arn"].(map[string]any)
			ga, _ := arn["Fn::GetAtt"].([]any)
			if len(ga) != 2 || ga[1] != "Arn" {
				t.Errorf("%s: DeadLetterConfig %#v, want the ARN of a queue of this template", where, target["DeadLetterConfig"])
				continue
			}
			dlqID, _ := ga[0].(string)
			dlq := tpl.Resources[dlqID]
			if dlq.Type != "AWS::SQS::Queue" {
				t.Errorf("%s: dead letters go to %s, a %q", where, dlqID, dlq.Type)
				continue
			}
			if reflect.DeepEqual(target["Arn"], getAtt(dlqID, "Arn")) {
				t.Errorf("%s: the dead-letter queue is the target itself", where)
			}
			if dlq.Condition != "" && dlq.Condition != rule.Condition {
				t.Errorf("%s: dead-letter queue %s exists under %q, the rule under %q", where, dlqID, dlq.Condition, rule.Condition)
			}
			if !reflect.DeepEqual(dlq.Properties["KmsMasterKeyId"], getAtt("ScannerKey", "Arn")) {
				t.Errorf("%s: dead-letter queue %s is not encrypted with ScannerKey like the other queues", where, dlqID)
			}
			if mr, _ := dlq.Properties["MessageRetentionPeriod"].(int); mr != 1209600 {
				t.Errorf("%s: dead-letter queue %s keeps messages %d s, want SQS's longest, 1209600", where, dlqID, mr)
			}
			assertRuleMaySend(t, tpl, where, dlqID, id)
		}
	}
}

// assertRuleMaySend checks that a queue policy on queue lets EventBridge send
// on behalf of rule, and of no rule but the template's.
func assertRuleMaySend(t *testing.T, tpl *stack.Template, where, queue, rule string) {
	t.Helper()
	for _, pid := range ofType(tpl, "AWS::SQS::QueuePolicy") {
		p := tpl.Resources[pid]
		queues, _ := p.Properties["Queues"].([]any)
		if !slices.ContainsFunc(queues, func(q any) bool { return reflect.DeepEqual(q, map[string]any{"Ref": queue}) }) {
			continue
		}
		for _, s := range statementsOf(pid, p.Properties["PolicyDocument"]) {
			principal, _ := s.body["Principal"].(map[string]any)
			cond, _ := s.body["Condition"].(map[string]any)
			arnEquals, _ := cond["ArnEquals"].(map[string]any)
			if s.body["Effect"] == "Allow" && principal["Service"] == "events.amazonaws.com" &&
				slices.Contains(stringsOf(s.body["Action"]), "sqs:SendMessage") &&
				reflect.DeepEqual(s.body["Resource"], getAtt(queue, "Arn")) &&
				mentions(arnEquals["aws:SourceArn"], getAtt(rule, "Arn")) {
				if p.Condition != "" && p.Condition != tpl.Resources[rule].Condition {
					t.Errorf("%s: queue policy %s exists under %q, the rule under %q", where, pid, p.Condition, tpl.Resources[rule].Condition)
				}
				return
			}
		}
	}
	t.Errorf("%s: no queue policy lets EventBridge send to %s for %s (aws:SourceArn)", where, queue, rule)
}

// findAlarms returns the alarms on one metric, by logical ID.
func findAlarms(tpl *stack.Template, namespace, metric string) map[string]stack.Resource {
	out := map[string]stack.Resource{}
	for _, id := range ofType(tpl, "AWS::CloudWatch::Alarm") {
		r := tpl.Resources[id]
		if r.Properties["Namespace"] == namespace && r.Properties["MetricName"] == metric {
			out[id] = r
		}
	}
	return out
}

func dimensionsOf(r stack.Resource) map[string]any {
	out := map[string]any{}
	dims, _ := r.Properties["Dimensions"].([]any)
	for _, d := range dims {
		dm, _ := d.(map[string]any)
		if name, ok := dm["Name"].(string); ok {
			out[name] = dm["Value"]
		}
	}
	return out
}

// Every rule has an alarm on its FailedInvocations, with the dimensions
// EventBridge publishes it under: RuleName alone on the default bus,
// EventBusName and RuleName on a custom bus. The rule name is the last part
// of the rule's ARN.
func TestEveryRuleHasAFailedInvocationsAlarm(t *testing.T) {
	tpl := load(t)
	alarms := findAlarms(tpl, "AWS/Events", "FailedInvocations")
	for _, id := range ofType(tpl, "AWS::Events::Rule") {
		rule := tpl.Resources[id]
		bus, onCustomBus := rule.Properties["EventBusName"]
		part := 1 // arn:...:rule/<rule>
		if onCustomBus {
			part = 2 // arn:...:rule/<bus>/<rule>
		}
		wantName := map[string]any{"Fn::Select": []any{part, map[string]any{"Fn::Split": []any{"/", getAtt(id, "Arn")}}}}
		found := false
		for aid, a := range alarms {
			dims := dimensionsOf(a)
			if !reflect.DeepEqual(dims["RuleName"], wantName) {
				continue
			}
			found = true
			if a.Condition != rule.Condition {
				t.Errorf("%s exists under %q, rule %s under %q", aid, a.Condition, id, rule.Condition)
			}
			wantDims := 1
			if onCustomBus {
				wantDims = 2
				if !reflect.DeepEqual(dims["EventBusName"], bus) {
					t.Errorf("%s: EventBusName %#v, want the rule's bus %#v", aid, dims["EventBusName"], bus)
				}
			}
			if len(dims) != wantDims {
				t.Errorf("%s: dimensions %v; a metric is matched only by all its dimensions", aid, dims)
			}
			if a.Properties["Statistic"] != "Sum" || a.Properties["Threshold"] != 0 ||
				a.Properties["ComparisonOperator"] != "GreaterThanThreshold" || a.Properties["TreatMissingData"] != "notBreaching" {
				t.Errorf("%s: want Sum > 0 with missing data not breaching (the metric is published only when not zero)", aid)
			}
		}
		if !found {
			t.Errorf("no FailedInvocations alarm on %s (RuleName %#v)", id, wantName)
		}
	}
}

// The Pipe's failures raise alarms, not only the records it parks in PipeDLQ.
func TestPipeFailuresRaiseAlarms(t *testing.T) {
	tpl := load(t)
	p, err := tpl.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	for _, metric := range []string{"ExecutionFailed", "TargetStageFailed"} {
		alarms := findAlarms(tpl, "AWS/EventBridge/Pipes", metric)
		ok := false
		for _, a := range alarms {
			dims := dimensionsOf(a)
			ok = ok || (len(dims) == 1 && reflect.DeepEqual(dims["PipeName"], map[string]any{"Ref": p.LogicalID}))
		}
		if !ok {
			t.Errorf("no %s alarm on %s with the PipeName dimension (alarms: %v)", metric, p.LogicalID, alarms)
		}
	}
}

// A Pipe started at LATEST never publishes the records written before it ran
// (the first deploy, a replaced Pipe); the handlers deduplicate what comes twice.
func TestPipeReadsRecordsWrittenBeforeItStarted(t *testing.T) {
	p, err := load(t).Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.StartingPosition != "TRIM_HORIZON" {
		t.Errorf("Pipe starts at %q, want TRIM_HORIZON", p.StartingPosition)
	}
}

// What holds results, dead letters or the key that decrypts them survives a
// stack deletion and a replacement.
func TestResultsAndKeysSurviveDeletionAndReplacement(t *testing.T) {
	tpl := load(t)
	keep := []string{"AWS::KMS::Key", "AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::SQS::Queue", "AWS::S3::Bucket"}
	// RetainExceptOnCreate, not Retain, on deletion: a first creation that
	// rolls back (and is retried) leaves no orphans. Replacement has no such
	// value.
	keptOnDelete := func(policy string) bool { return policy == "RetainExceptOnCreate" || policy == "Snapshot" }
	keptOnReplace := func(policy string) bool { return policy == "Retain" || policy == "Snapshot" }
	for _, typ := range keep {
		ids := ofType(tpl, typ)
		if len(ids) == 0 {
			t.Errorf("no %s in the template", typ)
		}
		for _, id := range ids {
			r := tpl.Resources[id]
			if !keptOnDelete(r.DeletionPolicy) || !keptOnReplace(r.UpdateReplacePolicy) {
				t.Errorf("%s (%s): DeletionPolicy %q, UpdateReplacePolicy %q; want RetainExceptOnCreate and Retain (or Snapshot)", id, typ, r.DeletionPolicy, r.UpdateReplacePolicy)
			}
		}
	}
	// The model reads the attributes, or the test above proves nothing.
	if r := tpl.Resources["ScanFunction"]; r.DeletionPolicy != "" || r.UpdateReplacePolicy != "" {
		t.Errorf("ScanFunction reads DeletionPolicy %q, UpdateReplacePolicy %q; the template sets none", r.DeletionPolicy, r.UpdateReplacePolicy)
	}
	if !strings.Contains(string(stack.Body()), "UpdateReplacePolicy: Retain") {
		t.Error("template body has no UpdateReplacePolicy")
	}
}
