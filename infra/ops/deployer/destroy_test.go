package deployer

import (
	"strings"
	"testing"

	"ecrscanner/infra/ops/stack"
)

func TestDeletionPolicies(t *testing.T) {
	policies, err := DeletionPolicies(stack.Body())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ResultsBucket", "ScannerKey", "ScansTable", "IdempotencyTable", "QualysTokenSecret", "ScanQueue", "ScanRuleDLQ"} {
		if policies[id] != "RetainExceptOnCreate" {
			t.Errorf("%s policy %q, want RetainExceptOnCreate (the template keeps results and keys)", id, policies[id])
		}
	}
	if _, ok := policies["ScanFunction"]; ok {
		t.Error("ScanFunction has no DeletionPolicy, but one was read")
	}
	got, err := DeletionPolicies([]byte(`{"Resources":{"A":{"Type":"AWS::S3::Bucket","DeletionPolicy":{"Fn::If":["C","Retain","Delete"]}},"B":{"Type":"AWS::S3::Bucket","DeletionPolicy":"Delete"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got["A"] != "unknown" || got["B"] != "Delete" {
		t.Errorf("policies %v: want an intrinsic read as unknown (kept) and Delete as Delete", got)
	}
}

// The plan names every resource the stack's deletion leaves behind, not
// only the buckets.
func TestDestroyPlanNamesRetainedResources(t *testing.T) {
	p := &destroyPlan{
		stackName: "demo", region: "eu-west-1",
		stack: &stack.Deployed{Resources: []stack.DeployedResource{{LogicalID: "ScannerKey"}}},
		kept:  []bucketPlan{{logicalID: "ResultsBucket", name: "demo-results"}},
		retained: []retainedResource{
			{logicalID: "ScannerKey", typ: "AWS::KMS::Key", physicalID: "1234abcd"},
			{logicalID: "ScansTable", typ: "AWS::DynamoDB::Table", physicalID: "demo-ScansTable-X"},
		},
	}
	plan := p.String()
	for _, want := range []string{"keep bucket demo-results", "keep AWS::KMS::Key 1234abcd (ScannerKey)", "keep AWS::DynamoDB::Table demo-ScansTable-X (ScansTable)"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan does not say %q:\n%s", want, plan)
		}
	}
}
