package local

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"ecrscanner/infra/ops/motoserver"
	"ecrscanner/infra/ops/stack"
)

// IAM is what a run needs from the emulator to hold every function to its
// own role: *motoserver.Moto provides it.
type IAM interface {
	// EnforceIAM makes the emulator check every request's signature and
	// permissions from now on.
	EnforceIAM(ctx context.Context) error
	// AssumeRoleAs returns credentials of a role as the AWS service
	// principal (lambda.amazonaws.com, pipes.amazonaws.com) gets them.
	AssumeRoleAs(ctx context.Context, service, roleARN, session string, d time.Duration) (motoserver.RoleCredentials, error)
	// Authorize fails unless a role's policies allow action on resource.
	Authorize(ctx context.Context, roleARN, action, resource string) error
}

// AdminCreator creates the harness's own principal: *motoserver.Moto.
type AdminCreator interface {
	CreateAdmin(ctx context.Context, account, name string) (motoserver.AccessKey, error)
}

// AdminConfig creates an IAM user allowed everything and returns base signed
// with its access key: what the harness (set-up, observation, the Pipe's and
// pollers' own bookkeeping) uses, so that it keeps working once IAM is
// enforced. It may be created before or after enforcing; name must be new.
func AdminConfig(ctx context.Context, m AdminCreator, base aws.Config, name string) (aws.Config, error) {
	key, err := m.CreateAdmin(ctx, Account, name)
	if err != nil {
		return aws.Config{}, err
	}
	cfg := base.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	return cfg, nil
}

// The service principals that assume the roles: Lambda for a function's
// execution role (which its event source mapping also polls with), Pipes
// for a pipe's role.
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-permissions.html
const (
	lambdaService = "lambda.amazonaws.com"
	pipesService  = "pipes.amazonaws.com"
	// A role's MaxSessionDuration when the template leaves it unset; no
	// session may last longer.
	// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-role.html
	defaultSessionDuration = time.Hour
	// Credentials this close to expiring are replaced at the next respawn or
	// client call.
	refreshWindow = 5 * time.Minute
)

// roles hands out the credentials of the deployment's roles, each assumed
// as the service that uses it and cached until it nears expiry. A nil
// *roles (IAM not enforced) hands out nothing: callers keep the harness's
// configuration.
type roles struct {
	iam IAM
	d   *Deployment
	mu  sync.Mutex
	// by role logical ID
	caches map[string]*aws.CredentialsCache
}

func newRoles(iam IAM, d *Deployment) *roles {
	if iam == nil {
		return nil
	}
	return &roles{iam: iam, d: d, caches: map[string]*aws.CredentialsCache{}}
}

// provider returns the cached credentials provider of a role.
func (r *roles) provider(roleID, service string) (*aws.CredentialsCache, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.caches[roleID]; ok {
		return c, nil
	}
	arn, err := roleARN(r.d, roleID)
	if err != nil {
		return nil, err
	}
	duration := defaultSessionDuration
	if s, err := r.d.Resolve(r.d.Template.Resources[roleID].Properties["MaxSessionDuration"]); err == nil && s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			duration = time.Duration(n) * time.Second
		}
	}
	c := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		rc, err := r.iam.AssumeRoleAs(ctx, service, arn, roleID, duration)
		if err != nil {
			return aws.Credentials{}, err
		}
		return aws.Credentials{
			AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken,
			CanExpire: true, Expires: rc.Expires, Source: "local:" + service,
		}, nil
	}), func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = refreshWindow })
	r.caches[roleID] = c
	return c, nil
}

// config is base signed with a role's credentials, as service assumes it.
func (r *roles) config(base aws.Config, roleID, service string) (aws.Config, error) {
	if r == nil {
		return base, nil
	}
	p, err := r.provider(roleID, service)
	if err != nil {
		return aws.Config{}, err
	}
	// Fail now rather than at the first call if the role cannot be assumed.
	if _, err := p.Retrieve(context.Background()); err != nil {
		return aws.Config{}, err
	}
	cfg := base.Copy()
	cfg.Credentials = p
	return cfg, nil
}

// functionEnv returns what a function process is given of its execution
// role, as Lambda sets it: fresh at each (re)spawn when the cached
// credentials near expiry. nil when IAM is not enforced.
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
func (r *roles) functionEnv(roleID string) (func(ctx context.Context) (map[string]string, error), error) {
	if r == nil {
		return nil, nil
	}
	p, err := r.provider(roleID, lambdaService)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (map[string]string, error) {
		c, err := p.Retrieve(ctx)
		if err != nil {
			return nil, err
		}
		return map[string]string{
			"AWS_ACCESS_KEY_ID": c.AccessKeyID, "AWS_SECRET_ACCESS_KEY": c.SecretAccessKey, "AWS_SESSION_TOKEN": c.SessionToken,
		}, nil
	}, nil
}

// invoker is next, checked before each invocation for the role's
// lambda:InvokeFunction on the function, as Pipes invokes an enrichment with
// the pipe's role. The runner invokes the function itself, past moto's API,
// so the check is made here.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-permissions.html
func (r *roles) invoker(next Invoker, roleID, functionID string) (Invoker, error) {
	if r == nil {
		return next, nil
	}
	role, err := roleARN(r.d, roleID)
	if err != nil {
		return nil, err
	}
	name, err := r.d.Ref(functionID)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", functionID, err)
	}
	fn := r.d.ARN("lambda", "function:"+name)
	return invokerFunc(func(ctx context.Context, payload []byte, trace string) ([]byte, error) {
		if err := r.iam.Authorize(ctx, role, "lambda:InvokeFunction", fn); err != nil {
			return nil, err
		}
		return next.Invoke(ctx, payload, trace)
	}), nil
}

type invokerFunc func(ctx context.Context, payload []byte, trace string) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte, trace string) ([]byte, error) {
	return f(ctx, payload, trace)
}

// roleARN is the ARN of a role of the deployment. A role's Ref is its name;
// the template's roles have the default path "/".
func roleARN(d *Deployment, roleID string) (string, error) {
	r, ok := d.Template.Resources[roleID]
	if !ok || r.Type != "AWS::IAM::Role" {
		return "", fmt.Errorf("role %s: not an AWS::IAM::Role of the template", roleID)
	}
	name, err := d.Ref(roleID)
	if err != nil || name == "" {
		return "", fmt.Errorf("role %s: no physical name: %v", roleID, err)
	}
	return stack.ARN(d.Partition, "iam", "", d.Account, "role/"+name), nil
}

// getAttTarget is the logical ID an {"Fn::GetAtt": [id, attr]} names.
func getAttTarget(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	switch l := m["Fn::GetAtt"].(type) {
	case []any:
		if len(l) > 0 {
			id, ok := l[0].(string)
			return id, ok
		}
	case string:
		id, _, ok := strings.Cut(l, ".")
		return id, ok
	}
	return "", false
}
