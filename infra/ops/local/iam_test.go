package local_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/infra/ops/mototest"
)

// harness returns the configuration every test of this package uses for
// what is not under test (set-up, observation): signed by one admin user of
// the package's moto, which keeps working once a pipeline has enforced IAM
// on that server for the rest of the test binary.
func harness(t *testing.T) aws.Config { return mototest.Admin(t) }
