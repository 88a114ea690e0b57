package local

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/infra/ops/motoserver"
	"ecrscanner/infra/ops/stack"
)

// fakeIAM records what it is asked and answers as told.
type fakeIAM struct {
	mu        sync.Mutex
	assumed   []string // service role session
	authz     []string // role action resource
	expiresIn time.Duration
	assumeErr error
	authzErr  error
}

func (f *fakeIAM) EnforceIAM(context.Context) error { return nil }

func (f *fakeIAM) AssumeRoleAs(_ context.Context, service, role, session string, d time.Duration) (motoserver.RoleCredentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assumed = append(f.assumed, service+" "+role+" "+session+" "+d.String())
	if f.assumeErr != nil {
		return motoserver.RoleCredentials{}, f.assumeErr
	}
	return motoserver.RoleCredentials{AccessKeyID: "ASIA" + session, SecretAccessKey: "s", SessionToken: "t", Expires: time.Now().Add(f.expiresIn)}, nil
}

func (f *fakeIAM) Authorize(_ context.Context, role, action, resource string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.authz = append(f.authz, role+" "+action+" "+resource)
	return f.authzErr
}

func testDeployment(t *testing.T) *Deployment {
	t.Helper()
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployment{Deployed: &stack.Deployed{Name: "s", Partition: "aws", Region: Region, Account: Account, Template: tmpl}}
	d.SetPhysicalID("ArchiveRole", "s-ArchiveRole-X")
	d.SetPhysicalID("PipeRole", "s-PipeRole-X")
	d.SetPhysicalID("EnrichFunction", "s-EnrichFunction-X")
	return d
}

func TestRoleCredentialsRefreshNearExpiry(t *testing.T) {
	for _, tc := range []struct {
		expiresIn time.Duration
		assumes   int
	}{{time.Hour, 1}, {time.Minute, 2}} {
		f := &fakeIAM{expiresIn: tc.expiresIn}
		env, err := newRoles(f, testDeployment(t)).functionEnv("ArchiveRole")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // two worker spawns
			vars, err := env(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if vars["AWS_ACCESS_KEY_ID"] != "ASIAArchiveRole" || vars["AWS_SECRET_ACCESS_KEY"] != "s" || vars["AWS_SESSION_TOKEN"] != "t" {
				t.Errorf("function env %v", vars)
			}
		}
		if len(f.assumed) != tc.assumes || f.assumed[0] != "lambda.amazonaws.com arn:aws:iam::123456789012:role/s-ArchiveRole-X ArchiveRole 1h0m0s" {
			t.Errorf("credentials expiring in %v: assumed %q, want %d assumption(s) of the role as Lambda for an hour", tc.expiresIn, f.assumed, tc.assumes)
		}
	}
}

func TestRoleCredentialFailuresReachTheCaller(t *testing.T) {
	f := &fakeIAM{assumeErr: errors.New("assume: 403 Error: AccessDenied: the trust policy does not allow")}
	r := newRoles(f, testDeployment(t))
	if _, err := r.config(aws.Config{}, "ArchiveRole", lambdaService); err == nil || !strings.Contains(err.Error(), "trust policy does not allow") {
		t.Errorf("config: %v", err)
	}
	env, err := r.functionEnv("ArchiveRole")
	if err != nil {
		t.Fatal(err)
	}
	// Where it ends up: the function does not start, and says why.
	fn := &Function{Name: "ArchiveFunction", Binary: "/bin/true", Credentials: env}
	if err := fn.Start(); err == nil || !strings.Contains(err.Error(), "function ArchiveFunction: credentials: ") || !strings.Contains(err.Error(), "assume: 403") {
		t.Errorf("Start: %v", err)
	}
	if _, err := r.functionEnv("ArchiveQueue"); err == nil || !strings.Contains(err.Error(), "role ArchiveQueue: not an AWS::IAM::Role") {
		t.Errorf("a queue as a role: %v", err)
	}
	if _, err := r.functionEnv("ScanRole"); err == nil || !strings.Contains(err.Error(), "role ScanRole: no physical name") {
		t.Errorf("a role not deployed: %v", err)
	}
	var none *roles // IAM not enforced: the harness's configuration, no credentials
	if cfg, err := none.config(aws.Config{Region: "r"}, "ArchiveRole", lambdaService); err != nil || cfg.Region != "r" {
		t.Errorf("unenforced config: %v %v", cfg.Region, err)
	}
}

type countingInvoker struct{ calls int }

func (c *countingInvoker) Invoke(context.Context, []byte, string) ([]byte, error) {
	c.calls++
	return []byte("ok"), nil
}

func TestEnrichmentInvocationIsAuthorized(t *testing.T) {
	f := &fakeIAM{}
	next := &countingInvoker{}
	inv, err := newRoles(f, testDeployment(t)).invoker(next, "PipeRole", "EnrichFunction")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := inv.Invoke(context.Background(), nil, ""); err != nil || string(out) != "ok" || next.calls != 1 {
		t.Fatalf("allowed: %q %v, %d calls", out, err, next.calls)
	}
	want := "arn:aws:iam::123456789012:role/s-PipeRole-X lambda:InvokeFunction arn:aws:lambda:us-east-1:123456789012:function:s-EnrichFunction-X"
	if len(f.authz) != 1 || f.authz[0] != want {
		t.Errorf("authorized %q, want %q", f.authz, want)
	}
	f.authzErr = errors.New("AccessDenied: not authorized to perform: lambda:InvokeFunction")
	if _, err := inv.Invoke(context.Background(), nil, ""); err == nil || !strings.Contains(err.Error(), "lambda:InvokeFunction") || next.calls != 1 {
		t.Errorf("refused: %v, %d calls (the function must not run)", err, next.calls)
	}
}
