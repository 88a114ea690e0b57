package probe_test

import (
	"archive/tar"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/probe"
)

// TestECRRegistryRefusesAnotherAccountsRegistry logs in to (moto's) ECR and
// refuses to push when the credentials' registry is not the stack's account
// and region, before sending anything to a registry.
func TestECRRegistryRefusesAnotherAccountsRegistry(t *testing.T) {
	reg := &probe.ECRRegistry{Client: ecr.NewFromConfig(operator(t))}
	img, err := probe.Image("test-run")
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Push(context.Background(), "999999999999", local.Region, probe.DefaultRepository, "t", img)
	if err == nil || !strings.Contains(err.Error(), "is not the stack's (account 999999999999") {
		t.Errorf("push to another account's stack: %v; want a refusal naming the accounts", err)
	}
}

// TestProbeImagesDiffer: each run's image has a digest of its own (the
// run ID is in it), and one holds the planted credential file.
func TestProbeImagesDiffer(t *testing.T) {
	a, err := probe.Image("run-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := probe.Image("run-b")
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da == db {
		t.Errorf("two runs' images share digest %s", da)
	}
	layers, err := a.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no planted credential in the layer (%v)", err)
		}
		if h.Name == "probe/.aws/credentials" {
			body, _ := io.ReadAll(tr)
			if !strings.Contains(string(body), "aws_secret_access_key = ") || !strings.Contains(string(body), "aws_access_key_id = AKIA") {
				t.Errorf("credential file %q is not shaped as AWS's", body)
			}
			return
		}
	}
}
