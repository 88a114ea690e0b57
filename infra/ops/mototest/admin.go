package mototest

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Account is the account moto serves by default.
const Account = "123456789012"

var (
	adminOnce sync.Once
	adminCfg  aws.Config
	adminErr  error
)

// Admin is Config signed by an admin user of the shared moto, made once per
// test binary: what a test uses for set-up and observation (an operator's
// credentials), which keeps working once a pipeline has switched IAM
// enforcement on for that server.
func Admin(t testing.TB) aws.Config {
	t.Helper()
	m := Server(t)
	adminOnce.Do(func() {
		key, err := m.CreateAdmin(context.Background(), Account, "mototest-admin")
		if err != nil {
			adminErr = err
			return
		}
		adminCfg = Config(t).Copy()
		adminCfg.Credentials = credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	})
	if adminErr != nil {
		t.Fatal(adminErr)
	}
	return adminCfg
}
