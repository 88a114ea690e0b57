package stack_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"ecrscanner/infra/ops/stack"
)

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
	kept := func(policy string) bool { return policy == "Retain" || policy == "Snapshot" }
	for _, typ := range keep {
		ids := ofType(tpl, typ)
		if len(ids) == 0 {
			t.Errorf("no %s in the template", typ)
		}
		for _, id := range ids {
			r := tpl.Resources[id]
			if !kept(r.DeletionPolicy) || !kept(r.UpdateReplacePolicy) {
				t.Errorf("%s (%s): DeletionPolicy %q, UpdateReplacePolicy %q; want Retain (or Snapshot) for both", id, typ, r.DeletionPolicy, r.UpdateReplacePolicy)
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
