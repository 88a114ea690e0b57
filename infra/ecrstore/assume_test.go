package ecrstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

type fakeSTS struct {
	mu    sync.Mutex
	calls []sts.AssumeRoleInput
	err   error
	now   time.Time
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *in)
	if f.err != nil {
		return nil, f.err
	}
	return &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String("ASIAMEMBER"), SecretAccessKey: aws.String("secret"), SessionToken: aws.String("token"),
		Expiration: aws.Time(f.now.Add(time.Hour)),
	}}, nil
}

func newAccess(t *testing.T, f *fakeSTS) *RegistryAccess {
	t.Helper()
	a, err := NewRegistryAccess(f, aws.Config{Region: "us-east-1"}, RegistryAccessConfig{
		HomeAccount: "123456789012", HomeRegion: "us-east-1", RoleName: "qualys-ecr-scanner-spoke", Function: "scan",
	})
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return f.now }
	return a
}

func TestRegistryAccessAssumesTheSpokeRoleOncePerSession(t *testing.T) {
	f := &fakeSTS{now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	a := newAccess(t, f)
	ctx := context.Background()
	if _, ok, err := a.Credentials(ctx, "123456789012", "us-east-1", "abc"); ok || err != nil {
		t.Fatalf("the hub's own registry: ok %v err %v, want its own credentials (none handed out)", ok, err)
	}
	for range 3 {
		c, ok, err := a.Credentials(ctx, "111122223333", "us-west-2", "5b0bcabd1ed2")
		if err != nil || !ok || c.AccessKeyID != "ASIAMEMBER" {
			t.Fatalf("member credentials = %+v, %v, %v", c, ok, err)
		}
	}
	if len(f.calls) != 1 {
		t.Fatalf("%d AssumeRole calls for one scan's session, want 1", len(f.calls))
	}
	in := f.calls[0]
	if got := aws.ToString(in.RoleArn); got != "arn:aws:iam::111122223333:role/qualys-ecr-scanner-spoke" {
		t.Errorf("role %s", got)
	}
	if got := aws.ToString(in.RoleSessionName); got != "ecrscan-scan-5b0bcabd1ed2" {
		t.Errorf("session name %s, want one naming the function and the digest", got)
	}
	if aws.ToInt32(in.DurationSeconds) != 3600 {
		t.Errorf("duration %d, want 3600 (role chaining's limit)", aws.ToInt32(in.DurationSeconds))
	}
	// Near expiry, the credentials are replaced.
	f.now = f.now.Add(50 * time.Minute)
	if _, _, err := a.Credentials(ctx, "111122223333", "us-west-2", "5b0bcabd1ed2"); err != nil || len(f.calls) != 2 {
		t.Errorf("after 50 minutes: err %v, %d calls; want a fresh AssumeRole", err, len(f.calls))
	}
	long := a.sessionName(strings.Repeat("x/y ", 30))
	if len(long) > 64 || strings.ContainsAny(long, "/ ") {
		t.Errorf("session name %q breaks STS's rule", long)
	}
}

func TestRegistryAccessRefusalNamesTheRole(t *testing.T) {
	ctx := context.Background()
	denied := &fakeSTS{err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sts:AssumeRole"}}
	_, err := newAccess(t, denied).Config(ctx, "111122223333", "us-west-2", "d")
	var re *RoleError
	if !errors.As(err, &re) || re.Role != "arn:aws:iam::111122223333:role/qualys-ecr-scanner-spoke" || !strings.Contains(err.Error(), re.Role) {
		t.Fatalf("err %v, want a RoleError naming the role", err)
	}
	throttled := &fakeSTS{err: &smithy.GenericAPIError{Code: "Throttling", Message: "slow down"}}
	_, err = newAccess(t, throttled).Config(ctx, "111122223333", "us-west-2", "d")
	if err == nil || errors.As(err, &re) {
		t.Fatalf("err %v, want a plain (retryable) error for throttling", err)
	}
	a := newAccess(t, &fakeSTS{})
	ecrDenied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: ecr:BatchGetImage"}
	if err := a.AsRoleError("111122223333", "us-west-2", ecrDenied); !errors.As(err, &re) {
		t.Errorf("ECR's refusal with the spoke role's credentials: %v, want a RoleError", err)
	}
	if err := a.AsRoleError("123456789012", "us-east-1", ecrDenied); errors.As(err, &re) {
		t.Errorf("a refusal in the hub's own registry became a RoleError: %v", err)
	}
}

func TestRegistryAccessWithoutSpokeRoleIsSingleAccount(t *testing.T) {
	a, err := NewRegistryAccess(nil, aws.Config{Region: "us-east-1"}, RegistryAccessConfig{Function: "scan"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Home("999999999999", "eu-west-1") {
		t.Error("without a spoke role every registry is read with the function's own role")
	}
	if _, err := NewRegistryAccess(nil, aws.Config{}, RegistryAccessConfig{RoleName: "bad name!"}); err == nil {
		t.Error("a bad role name and no STS client were accepted")
	}
}
