package local

import (
	"encoding/json"
	"strings"
	"testing"

	"ecrscanner/infra/ops/stack"
)

func policyActions(t *testing.T, r stack.Resource) []string {
	t.Helper()
	var acts []string
	for _, p := range r.Properties["Policies"].([]any) {
		for _, st := range statements(p.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"]) {
			acts = append(acts, actions(st["Action"])...)
		}
	}
	return acts
}

func TestDropActionRemovesOneActionFromOneRole(t *testing.T) {
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(tmpl.Resources["ArchiveRole"].Properties)
	got, err := DropAction(tmpl, "ArchiveRole:s3:PutObject")
	if err != nil {
		t.Fatal(err)
	}
	after := policyActions(t, got.Resources["ArchiveRole"])
	for _, a := range after {
		if a == "s3:PutObject" {
			t.Fatalf("s3:PutObject still in %v", after)
		}
	}
	// The statement that held only s3:PutObject is gone; the others stay.
	if n, m := len(policyActions(t, tmpl.Resources["ArchiveRole"])), len(after); m != n-1 {
		t.Errorf("%d actions left of %d, want one fewer", m, n)
	}
	if again, _ := json.Marshal(tmpl.Resources["ArchiveRole"].Properties); string(again) != string(before) {
		t.Error("DropAction changed the template it was given")
	}
	if len(policyActions(t, got.Resources["ScanRole"])) != len(policyActions(t, tmpl.Resources["ScanRole"])) {
		t.Error("another role changed")
	}
	// An action listed with others leaves the rest of its statement.
	got, err = DropAction(tmpl, "ScanRole:dynamodb:putitem")
	if err != nil {
		t.Fatal(err)
	}
	acts := strings.Join(policyActions(t, got.Resources["ScanRole"]), " ")
	if strings.Contains(acts, "dynamodb:PutItem") || !strings.Contains(acts, "dynamodb:GetItem") {
		t.Errorf("ScanRole actions after dropping dynamodb:PutItem: %s", acts)
	}
}

func TestDropActionRefusesWhatItCannotDrop(t *testing.T) {
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	for spec, want := range map[string]string{
		"ArchiveRole":                "want RoleLogicalID:service:Action",
		"ArchiveRole:PutObject":      "want RoleLogicalID:service:Action",
		"NoSuchRole:s3:PutObject":    "NoSuchRole is not an AWS::IAM::Role of the template",
		"ArchiveQueue:s3:PutObject":  "ArchiveQueue is not an AWS::IAM::Role",
		"ArchiveRole:sns:Publish":    "no inline policy of ArchiveRole allows sns:Publish",
		"ArchiveRole:s3:PutObjectXY": "no inline policy of ArchiveRole allows s3:PutObjectXY",
	} {
		_, err := DropAction(tmpl, spec)
		if err == nil || !strings.Contains(err.Error(), DropActionEnv+" ") || !strings.Contains(err.Error(), want) {
			t.Errorf("DropAction(%q) = %v, want an error naming %s and saying %q", spec, err, DropActionEnv, want)
		}
	}
}
