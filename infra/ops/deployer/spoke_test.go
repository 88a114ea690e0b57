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

// VerifySpoke passes for a spoke deployed for this hub, and fails the trust
// check for a hub whose roles the spoke does not name.
func TestVerifySpokeChecksForwardingAndTrust(t *testing.T) {
	ctx := context.Background()
	d, cfg := motoDeployer(t, newTestOut(t))
	o := SpokeOptions{StackName: mototest.UniqueName("spoke"), HubAccount: "210987654321", HubRegion: cfg.Region, HubStackName: mototest.UniqueName("hub"), RoleName: mototest.UniqueName("spoke-role")}
	if _, err := d.DeploySpoke(ctx, o); err != nil {
		t.Fatal(err)
	}
	c := NewSpokeClients(cfg)
	r, err := VerifySpoke(ctx, c, "", o, cfg.Region)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, ch := range r.Checks {
		names[ch.Name] = true
		if ch.Result != Pass {
			t.Errorf("%s %s: %s", ch.Name, ch.Result, ch.Detail)
		}
	}
	for _, want := range []string{"spoke stack", "forwarding rule", "forwarding target", "forwarding DLQ", "spoke role trust"} {
		if !names[want] {
			t.Errorf("no %q check in %+v", want, r.Checks)
		}
	}
	other := o
	other.HubStackName = "another-hub"
	r, err = VerifySpoke(ctx, c, "", other, cfg.Region)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, ch := range r.Checks {
		if ch.Name == "spoke role trust" && ch.Result == Fail {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("a hub whose roles the trust does not name: %d trust FAILs, want 2 (%+v)", failed, r.Checks)
	}
	if _, err := VerifySpoke(ctx, c, "999999999999", o, cfg.Region); err == nil {
		t.Error("credentials of another account than --member were accepted")
	}
}
