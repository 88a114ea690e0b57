package stack_test

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"ecrscanner/infra/ops/stack"
)

// starActionDocs are the only actions a role may be granted on "*", each with
// the page that says it takes no resource ARN (the Service Authorization
// Reference lists no resource type for it).
var starActionDocs = map[string]string{
	"ecr:GetAuthorizationToken": "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html",
	"xray:PutTraceSegments":     "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html",
	"xray:PutTelemetryRecords":  "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html",
	// Scoped by the cloudwatch:namespace condition instead.
	"cloudwatch:PutMetricData": "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html",
	// The function filters by its own product ARN and Id prefix; IAM cannot.
	"securityhub:GetFindings": "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecurityhub.html",
}

// actionsWithoutResourceARN is starActionDocs' list, for
// TestStarResourcesOnlyForActionsWithoutResourceARNs.
var actionsWithoutResourceARN = slices.Sorted(maps.Keys(starActionDocs))

// kmsNeed says which KMS actions a caller needs on the key of an encrypted
// resource of one type, per action the caller performs on it.
type kmsNeed struct {
	keyProp string // the property naming the resource's key
	actions map[string][]string
	doc     string
}

var kmsNeeds = map[string]kmsNeed{
	"AWS::SQS::Queue": {"KmsMasterKeyId", map[string][]string{
		"sqs:SendMessage":    {"kms:GenerateDataKey", "kms:Decrypt"},
		"sqs:ReceiveMessage": {"kms:Decrypt"},
	}, "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html"},
	"AWS::SNS::Topic": {"KmsMasterKeyId", map[string][]string{
		"sns:Publish": {"kms:GenerateDataKey", "kms:Decrypt"},
	}, "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"},
	"AWS::SecretsManager::Secret": {"KmsKeyId", map[string][]string{
		"secretsmanager:GetSecretValue": {"kms:Decrypt"},
	}, "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html"},
	"AWS::Events::EventBus": {"KmsKeyIdentifier", map[string][]string{
		"events:PutEvents": {"kms:GenerateDataKey"},
	}, "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-encryption-event-bus-cmkey.html"},
}

// externalKeys: a resource passed in as a parameter whose key is another
// parameter (the token secret and its optional customer managed key).
var externalKeys = map[string]string{"QualysTokenSecretArn": "QualysTokenSecretKmsKeyArn"}

// kmsGaps lists each role statement acting on an encrypted resource whose
// role lacks a KMS action that action needs on the resource's key, and
// counts the (statement, resource, action) triples it checked.
func kmsGaps(tpl *stack.Template) (gaps []string, checked int) {
	stmts := identityStatements(tpl)
	for _, s := range stmts {
		if s.body["Effect"] != "Allow" {
			continue
		}
		role, _, _ := strings.Cut(s.where, "/")
		for _, target := range referencedIDs(s.body["Resource"]) {
			key, need := keyOf(tpl, target)
			if key == nil {
				continue
			}
			for _, a := range stringsOf(s.body["Action"]) {
				for _, k := range need[a] {
					checked++
					if !holdsOn(stmts, role, k, key) {
						gaps = append(gaps, fmt.Sprintf("%s: %s on %s needs %s on its key %v", s.where, a, target, k, key))
					}
				}
			}
		}
	}
	return gaps, checked
}

// keyOf is the key target is encrypted with and what its actions need, or
// nil for a target without a customer managed key.
func keyOf(tpl *stack.Template, target string) (any, map[string][]string) {
	if p, ok := externalKeys[target]; ok {
		return map[string]any{"Ref": p}, kmsNeeds["AWS::SecretsManager::Secret"].actions
	}
	r, ok := tpl.Resources[target]
	if !ok {
		return nil, nil
	}
	n, ok := kmsNeeds[r.Type]
	if !ok || r.Properties[n.keyProp] == nil {
		return nil, nil
	}
	return r.Properties[n.keyProp], n.actions
}

// holdsOn: an Allow statement of role grants action on a Resource naming key.
func holdsOn(stmts []statement, role, action string, key any) bool {
	for _, s := range stmts {
		if strings.HasPrefix(s.where, role+"/") && s.body["Effect"] == "Allow" &&
			slices.Contains(stringsOf(s.body["Action"]), action) && mentions(s.body["Resource"], key) {
			return true
		}
	}
	return false
}

var subRef = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}`)

// referencedIDs lists the logical IDs and parameters a Resource value names
// through Ref, GetAtt or Sub, in every branch of an If.
func referencedIDs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "Ref":
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			case "Fn::GetAtt":
				if l, ok := e.([]any); ok && len(l) > 0 {
					out = append(out, fmt.Sprint(l[0]))
				}
			case "Fn::Sub":
				for _, m := range subRef.FindAllStringSubmatch(fmt.Sprint(e), -1) {
					out = append(out, m[1])
				}
			default:
				out = append(out, referencedIDs(e)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, referencedIDs(e)...)
		}
	}
	return out
}

// Every role acting on a resource encrypted with a customer managed key
// (ScannerKey, or the token secret's own key) holds the KMS actions that
// action needs on that key, per each service's documentation (kmsNeeds).
// Tables use the AWS managed key and the bucket SSE-S3, which ask nothing
// of the caller; log groups are encrypted by CloudWatch Logs itself
// (TestKeyPolicyLetsServicesUseTheKey).
func TestRolesHoldTheKMSActionsTheirResourcesNeed(t *testing.T) {
	gaps, checked := kmsGaps(load(t))
	for _, g := range gaps {
		t.Error(g)
	}
	// Scan, archive, tag, alert, securityhub and the pipe each send to a
	// DLQ; the four handlers and scan receive; alert publishes; scan reads
	// the secret.
	if checked < 20 {
		t.Errorf("checked %d KMS needs, want at least 20: the checker no longer sees the roles' statements", checked)
	}

	t.Run("a role without GenerateDataKey is caught", func(t *testing.T) {
		tpl := load(t)
		dropAction(t, tpl, "AlertRole", "UseScannerKey", "kms:GenerateDataKey")
		gaps, _ := kmsGaps(tpl)
		if !slices.ContainsFunc(gaps, func(g string) bool {
			return strings.Contains(g, "AlertRole") && strings.Contains(g, "sns:Publish") && strings.Contains(g, "kms:GenerateDataKey")
		}) {
			t.Errorf("gaps %v do not name AlertRole's publish to the encrypted topic", gaps)
		}
	})
	t.Run("the token secret's own key is required", func(t *testing.T) {
		tpl := load(t)
		dropAction(t, tpl, "ScanRole", "DecryptQualysTokenSecret", "kms:Decrypt")
		gaps, _ := kmsGaps(tpl)
		if !slices.ContainsFunc(gaps, func(g string) bool { return strings.Contains(g, "QualysTokenSecretKmsKeyArn") }) {
			t.Errorf("gaps %v do not name the token secret's key", gaps)
		}
	})
}

// dropAction removes one action from the statement sid of role's policy.
func dropAction(t *testing.T, tpl *stack.Template, role, sid, action string) {
	t.Helper()
	for _, p := range tpl.Resources[role].Properties["Policies"].([]any) {
		doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			m := s.(map[string]any)
			if m["Sid"] != sid {
				continue
			}
			var kept []any
			for _, a := range stringsOf(m["Action"]) {
				if a != action {
					kept = append(kept, a)
				}
			}
			m["Action"] = kept
			return
		}
	}
	t.Fatalf("%s has no statement %s", role, sid)
}

// Services that encrypt with ScannerKey on their own account may use it:
// CloudWatch Logs for the log groups, EventBridge for rule deliveries to the
// encrypted queues, CloudWatch alarms for the encrypted topic.
func TestKeyPolicyLetsServicesUseTheKey(t *testing.T) {
	tpl := load(t)
	needs := []struct {
		service string
		actions []string
		doc     string
	}{
		{"logs.", []string{"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}, "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"},
		{"events.amazonaws.com", []string{"kms:GenerateDataKey", "kms:Decrypt"}, "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html"},
		{"cloudwatch.amazonaws.com", []string{"kms:GenerateDataKey", "kms:Decrypt"}, "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"},
	}
	stmts := statementsOf("ScannerKey", tpl.Resources["ScannerKey"].Properties["KeyPolicy"])
	for _, n := range needs {
		found := false
		for _, s := range stmts {
			principal, _ := s.body["Principal"].(map[string]any)
			if s.body["Effect"] != "Allow" || !strings.Contains(fmt.Sprint(principal["Service"]), n.service) {
				continue
			}
			found = true
			for _, a := range n.actions {
				if !slices.Contains(stringsOf(s.body["Action"]), a) {
					t.Errorf("%s: %s may not %s (%s)", s.where, n.service, a, n.doc)
				}
			}
		}
		if !found {
			t.Errorf("the key policy lets %s do nothing (%s)", n.service, n.doc)
		}
	}
	// A table or bucket moved to ScannerKey would need kmsNeeds rows.
	for id, r := range tpl.Resources {
		sse, _ := r.Properties["SSESpecification"].(map[string]any)
		if r.Type == "AWS::DynamoDB::Table" && sse["KMSMasterKeyId"] != nil {
			t.Errorf("%s uses a customer managed key: add DynamoDB to kmsNeeds", id)
		}
		if r.Type == "AWS::S3::Bucket" && mentions(r.Properties["BucketEncryption"], "aws:kms") {
			t.Errorf("%s uses SSE-KMS: add S3 to kmsNeeds", id)
		}
	}
}

// Resource "*" only for the documented actions without resource ARNs, and
// every one of those named with its reference.
func TestStarActionsAreDocumented(t *testing.T) {
	for a, doc := range starActionDocs {
		if !strings.HasPrefix(doc, "https://docs.aws.amazon.com/service-authorization/") {
			t.Errorf("%s: %q is not a Service Authorization Reference page", a, doc)
		}
	}
	tpl := load(t)
	for _, s := range identityStatements(tpl) {
		if !slices.Contains(stringsOf(s.body["Resource"]), "*") {
			continue
		}
		for _, a := range stringsOf(s.body["Action"]) {
			if _, ok := starActionDocs[a]; !ok {
				t.Errorf("%s: %s on \"*\" is not among the documented actions without a resource ARN", s.where, a)
			}
		}
	}
}

// The idempotency table: each downstream role reads and writes its own
// markers only (keys "<handler>#…", handlers/consume IdempotencyKey).
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
func TestIdempotencyMarkersAreEachHandlersOwn(t *testing.T) {
	tpl := load(t)
	table := getAtt("IdempotencyTable", "Arn")
	want := map[string]string{"ArchiveRole": "archive", "TagRole": "tag", "AlertRole": "alert", "SecurityHubRole": "securityhub"}
	seen := map[string]bool{}
	for _, s := range identityStatements(tpl) {
		if !mentions(s.body["Resource"], table) {
			continue
		}
		role, _, _ := strings.Cut(s.where, "/")
		handler, ok := want[role]
		if !ok {
			t.Errorf("%s: only the downstream handlers' roles may touch the idempotency table", s.where)
			continue
		}
		seen[role] = true
		wantCond := map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{handler + "#*"}}}
		if !reflect.DeepEqual(s.body["Condition"], wantCond) {
			t.Errorf("%s: condition %#v, want %#v", s.where, s.body["Condition"], wantCond)
		}
		// ForAllValues holds for a request without keys: only actions that
		// always name one key may be granted.
		for _, a := range stringsOf(s.body["Action"]) {
			if !slices.Contains([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"}, a) {
				t.Errorf("%s: %s may not name a key, so LeadingKeys would not bind it", s.where, a)
			}
		}
	}
	for role := range want {
		if !seen[role] {
			t.Errorf("%s has no statement on the idempotency table", role)
		}
	}
}

// The tag role may set the scan labels (qualys:*) and no other tag.
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-supported-iam-actions-tagging.html
func TestTagRoleSetsOnlyScanLabels(t *testing.T) {
	tpl := load(t)
	wantCond := map[string]any{
		"ForAllValues:StringLike": map[string]any{"aws:TagKeys": []any{"qualys:*"}},
		"Null":                    map[string]any{"aws:TagKeys": "false"},
	}
	found := 0
	for _, s := range identityStatements(tpl) {
		if !slices.Contains(stringsOf(s.body["Action"]), "ecr:TagResource") {
			continue
		}
		found++
		if !strings.HasPrefix(s.where, "TagRole/") {
			t.Errorf("%s: only TagRole may tag repositories", s.where)
		}
		if len(stringsOf(s.body["Action"])) != 1 || !reflect.DeepEqual(s.body["Condition"], wantCond) {
			t.Errorf("%s: actions %v condition %#v, want TagResource alone under %#v", s.where, s.body["Action"], s.body["Condition"], wantCond)
		}
	}
	if found != 1 {
		t.Errorf("%d statements grant ecr:TagResource, want 1", found)
	}
	// BatchUpdateFindings can change any product's findings: only the
	// Security Hub role gets it, confined to the workflow statuses a
	// suppression sets (SUPPRESSED) and lifts (NEW).
	wantSuppress := map[string]any{"StringEquals": map[string]any{"securityhub:ASFFSyntaxPath/Workflow.Status": []any{"SUPPRESSED", "NEW"}}}
	for _, s := range identityStatements(tpl) {
		for _, a := range stringsOf(s.body["Action"]) {
			switch {
			case a == "ecr:UntagResource":
				t.Errorf("%s grants %s", s.where, a)
			case a == "securityhub:BatchUpdateFindings" && (!strings.HasPrefix(s.where, "SecurityHubRole/") || !reflect.DeepEqual(s.body["Condition"], wantSuppress)):
				t.Errorf("%s grants %s with condition %#v, want SecurityHubRole only under %#v", s.where, a, s.body["Condition"], wantSuppress)
			}
		}
	}
}
