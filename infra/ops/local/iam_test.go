package local_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
)

var (
	adminOnce sync.Once
	adminCfg  aws.Config
	adminErr  error
)

// harness returns the configuration every test of this package uses for
// what is not under test (set-up, observation): signed by one admin user of
// the package's moto, which keeps working once a pipeline has enforced IAM
// on that server for the rest of the test binary.
func harness(t *testing.T) aws.Config {
	t.Helper()
	m := mototest.Server(t)
	adminOnce.Do(func() {
		adminCfg, adminErr = local.AdminConfig(context.Background(), m, mototest.Config(t), "ecrscan-test-harness")
	})
	if adminErr != nil {
		t.Fatal(adminErr)
	}
	return adminCfg
}
