// Package mototest gives a test package one moto_server for its whole test
// binary. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }
//
// and in a test:
//
//	cfg := mototest.Config(t) // an aws.Config aimed at moto
//
// The server starts on the first call to Config or Endpoint, so a run that
// selects only unit tests never pays for it. Tests in one package share the
// server: name resources with UniqueName. CreateScansTable,
// CreateIdempotencyTable, CreateBucket and CreateRepository set resources up
// the way the CloudFormation template does, for tests that need one without
// deploying the stack.
//
// When moto_server is missing, tests that need it skip with the reason; under
// CI=true they fail instead, so a broken CI image is never mistaken for a pass.
//
// It depends only on the leaf package motoserver, so any package's tests may
// use it.
package mototest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"ecrscanner/infra/ops/motoserver"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region every Config uses.
const Region = "us-east-1"

const startTimeout = 60 * time.Second

var (
	mu       sync.Mutex
	running  bool // inside Run, so a started server will be stopped
	server   *motoserver.Moto
	startErr error
)

// Run runs the package's tests and stops the moto_server they started, if
// any. It returns the exit code for os.Exit.
func Run(m *testing.M) int {
	mu.Lock()
	running = true
	mu.Unlock()

	code := m.Run()

	mu.Lock()
	defer mu.Unlock()
	running = false
	if server != nil {
		if err := server.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "mototest: stop moto_server: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		server = nil
	}
	return code
}

// Endpoint returns the URL of the package's moto_server, starting it on first
// use. It skips t when moto is unavailable, or fails t under CI=true.
func Endpoint(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !running {
		t.Fatal("mototest: call os.Exit(mototest.Run(m)) from TestMain before using moto")
	}
	if server == nil && startErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		server, startErr = motoserver.StartMoto(ctx, motoserver.MotoOptions{})
		cancel()
	}
	if startErr != nil {
		if inCI() {
			t.Fatalf("mototest: moto is required under CI=true: %v", startErr)
		}
		t.Skipf("mototest: moto unavailable, skipping: %v", startErr)
	}
	return server.Endpoint()
}

// Server returns the package's moto_server, starting it on first use, for
// what only the server offers (EnforceIAM, CreateAdmin, AssumeRoleAs). IAM
// enforcement lasts for the rest of the test binary: every test of the
// package then needs credentials of a principal moto knows.
func Server(t testing.TB) *motoserver.Moto {
	t.Helper()
	Endpoint(t)
	mu.Lock()
	defer mu.Unlock()
	return server
}

// Config returns an aws.Config aimed at the package's moto_server: region
// us-east-1, static "testing" credentials, BaseEndpoint set to moto. It reads
// nothing from the environment or ~/.aws, so a developer's own AWS settings
// cannot leak into a test. S3 clients also need o.UsePathStyle = true.
func Config(t testing.TB) aws.Config {
	t.Helper()
	endpoint := Endpoint(t)
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 5
				o.MaxBackoff = time.Second
				// Tests hammer one local server from many goroutines; the
				// client-side retry quota would turn that into spurious
				// failures.
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

// UniqueName returns prefix, lowercased and reduced to [a-z0-9-], followed by
// a random suffix. The result is at most 53 characters and valid as an S3
// bucket, DynamoDB table, SQS queue, SNS topic, ECR repository or EventBridge
// bus name.
func UniqueName(prefix string) string {
	var b strings.Builder
	dash := true // suppress a leading dash
	for _, r := range strings.ToLower(prefix) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	p := strings.TrimRight(b.String(), "-")
	if p == "" {
		p = "test"
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return p + "-" + hex.EncodeToString(suffix[:])
}

func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}
