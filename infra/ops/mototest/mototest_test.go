package mototest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestConfigReachesMoto(t *testing.T) {
	cfg := Config(t)
	if cfg.Region != Region {
		t.Errorf("Region = %q, want %q", cfg.Region, Region)
	}
	if got := aws.ToString(cfg.BaseEndpoint); got != Endpoint(t) || !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Errorf("BaseEndpoint = %q, want the loopback moto endpoint %q", got, Endpoint(t))
	}
	ctx := context.Background()
	client := sqs.NewFromConfig(cfg)
	name := UniqueName("mototest")
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateQueue against moto: %v", err)
	}
	if !strings.Contains(aws.ToString(out.QueueUrl), name) {
		t.Errorf("QueueUrl = %q, want it to name %q", aws.ToString(out.QueueUrl), name)
	}
}

func TestUniqueName(t *testing.T) {
	// The strictest of the names it must satisfy: S3 bucket and ECR repository.
	valid := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	tests := []struct {
		name, prefix, wantPrefix string
	}{
		{name: "plain", prefix: "scans", wantPrefix: "scans-"},
		{name: "mixed case and punctuation", prefix: "Test_Scan.Store/Update", wantPrefix: "test-scan-store-update-"},
		{name: "leading and trailing junk", prefix: "--Ab--", wantPrefix: "ab-"},
		{name: "empty", prefix: "", wantPrefix: "test-"},
		{name: "only junk", prefix: "___", wantPrefix: "test-"},
		{name: "long", prefix: strings.Repeat("abcdefghij", 10), wantPrefix: strings.Repeat("abcdefghij", 4) + "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := UniqueName(tc.prefix)
			if !strings.HasPrefix(got, tc.wantPrefix) {
				t.Errorf("UniqueName(%q) = %q, want prefix %q", tc.prefix, got, tc.wantPrefix)
			}
			if !valid.MatchString(got) || len(got) < 3 || len(got) > 63 {
				t.Errorf("UniqueName(%q) = %q, not a valid bucket/repository name", tc.prefix, got)
			}
			if again := UniqueName(tc.prefix); again == got {
				t.Errorf("two calls both returned %q", got)
			}
		})
	}
}

// TestMissingMoto runs this test binary again with moto_server unfindable: the
// test that needs moto must skip on a laptop and fail under CI=true.
func TestMissingMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	tests := []struct {
		name     string
		ci       string
		wantFail bool
		wantOut  string
	}{
		{name: "laptop skips", ci: "", wantFail: false, wantOut: "--- SKIP: TestConfigReachesMoto"},
		{name: "CI fails", ci: "true", wantFail: true, wantOut: "moto is required under CI=true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestConfigReachesMoto$", "-test.v")
			cmd.Env = append(os.Environ(), "MOTO_SERVER=/nonexistent/moto_server", "CI="+tc.ci)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("run test binary: %v", err)
			}
			if failed := err != nil; failed != tc.wantFail {
				t.Errorf("test binary failed = %v, want %v; output:\n%s", failed, tc.wantFail, out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
			if !strings.Contains(string(out), "make venv") {
				t.Errorf("output lacks the install hint:\n%s", out)
			}
		})
	}
}
