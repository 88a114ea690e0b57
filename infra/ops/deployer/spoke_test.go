package deployer

import (
	"context"
	"strings"
	"testing"

	"ecrscanner/infra/ops/mototest"
)

// DeploySpoke creates the spoke stack, then updates it in place; the role
// only where the hub's region is, the forwarding everywhere else.
func TestDeploySpokeCreatesThenUpdates(t *testing.T) {
	ctx := context.Background()
	d, cfg := motoDeployer(t, newTestOut(t))
	hubStack := mototest.UniqueName("hub")
	o := SpokeOptions{StackName: mototest.UniqueName("spoke"), HubAccount: "210987654321", HubRegion: cfg.Region, HubStackName: hubStack, RoleName: mototest.UniqueName("spoke-role")}
	out, err := d.DeploySpoke(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out["SpokeRoleArn"], ":role/"+o.RoleName) || out["ForwardDLQUrl"] == "" {
		t.Errorf("outputs %v, want the spoke role and the forwarding DLQ", out)
	}
	if _, err := d.DeploySpoke(ctx, o); err != nil {
		t.Errorf("second deploy (no changes): %v", err)
	}
	other := o
	other.StackName, other.HubRegion = mototest.UniqueName("spoke"), "eu-central-1"
	out, err = d.DeploySpoke(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out["SpokeRoleArn"]; ok {
		t.Errorf("a spoke outside the hub's region created the role (IAM is global: one per account): %v", out)
	}
	if _, err := d.DeploySpoke(ctx, SpokeOptions{HubAccount: "12345", HubRegion: "us-east-1"}); err == nil || !strings.Contains(err.Error(), "12-digit") {
		t.Errorf("a bad hub account: %v", err)
	}
}
