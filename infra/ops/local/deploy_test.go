package local_test

import (
	"context"
	"strings"
	"testing"

	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
)

// The local runner deploys the project's own template into moto; this pins
// that it deploys and that every function's environment resolves.
func TestTemplateDeploysIntoMoto(t *testing.T) {
	cfg := harness(t)
	ctx := context.Background()
	d, err := local.Deploy(ctx, cfg, local.DeployOptions{StackName: mototest.UniqueName("deploy"), Params: map[string]string{"QualysAccessToken": "t0ken"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Provide(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ScansTable", "IdempotencyTable", "ResultsBucket", "AlertTopic", "ImageScansBus", "ScanQueue", "ArchiveQueue", "TagQueue", "AlertQueue", "QualysTokenSecret"} {
		if d.PhysicalID(id) == "" {
			t.Errorf("resource %s has no physical ID after deploy", id)
		}
	}
	for _, f := range d.Template.Functions() {
		env, err := d.Environment(f)
		if err != nil {
			t.Errorf("%s: %v", f.LogicalID, err)
			continue
		}
		for k, v := range env {
			if strings.Contains(v, "${") || strings.Contains(v, "Fn::") {
				t.Errorf("%s %s=%q is unresolved", f.LogicalID, k, v)
			}
		}
	}
}

// A resource whose condition is false is neither created nor started.
func TestOptionalHandlerCanBeLeftOut(t *testing.T) {
	cfg := harness(t)
	d, err := local.Deploy(context.Background(), cfg, local.DeployOptions{StackName: mototest.UniqueName("optional"), Params: map[string]string{"EnableSecurityHub": "false"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Created("SecurityHubFunction") || d.PhysicalID("SecurityHubQueue") != "" {
		t.Error("the Security Hub handler was created although EnableSecurityHub=false")
	}
	if !d.Created("ArchiveFunction") {
		t.Error("an unconditional function counts as not created")
	}
}
