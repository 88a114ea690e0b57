package ecrstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"ecrscanner/domain"
)

// AssumeRoleAPI is the part of the STS client that RegistryAccess uses.
type AssumeRoleAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// RegistryAccessConfig says how a hub reaches the registries of its
// organization's member accounts.
type RegistryAccessConfig struct {
	// HomeAccount and HomeRegion are the hub's own: that one registry is
	// read with the function's own role, as a single-account stack does.
	HomeAccount, HomeRegion string
	// RoleName is the role the spoke template creates in each member
	// account (SPOKE_ROLE_NAME); empty when the stack serves one account.
	RoleName string
	// Function names the caller in each session name ("scan", "tag").
	Function string
}

// RegistryAccess hands out the AWS configuration to read and write one
// registry (an account and region): the function's own for the hub's
// registry, else one signed with the credentials of the spoke role in the
// registry's account. It is safe for concurrent use.
//
// Credentials are kept per account, region and session (which names the
// image's digest), until shortly before they expire: the inspection, the
// QScanner pull and a retry of the same scan share one session, and each
// scan shows up in the member account's CloudTrail under its own name.
type RegistryAccess struct {
	sts  AssumeRoleAPI
	base aws.Config
	cfg  RegistryAccessConfig
	now  func() time.Time

	mu    sync.Mutex
	creds map[string]aws.Credentials
}

// AssumedSessionDuration is asked of each AssumeRole. A Lambda function's
// role assuming another role is role chaining, which AWS limits to one hour
// ("Role chaining limits your ... API role session to a maximum of one
// hour"; DurationSeconds 900 to the role's maximum):
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
const AssumedSessionDuration = time.Hour

// credentialsMargin is how long before expiry cached credentials are
// replaced: longer than a scan may run (the function's 15-minute limit).
const credentialsMargin = 16 * time.Minute

// NewRegistryAccess checks cfg. base is the function's own configuration.
func NewRegistryAccess(client AssumeRoleAPI, base aws.Config, cfg RegistryAccessConfig) (*RegistryAccess, error) {
	if cfg.RoleName != "" && client == nil {
		return nil, errors.New("ecrstore: a spoke role is configured but there is no STS client")
	}
	if cfg.RoleName != "" && !roleNameRE.MatchString(cfg.RoleName) {
		return nil, fmt.Errorf("ecrstore: spoke role name %q: want 1-64 characters of [A-Za-z0-9+=,.@_-]", cfg.RoleName)
	}
	return &RegistryAccess{sts: client, base: base, cfg: cfg, now: time.Now, creds: map[string]aws.Credentials{}}, nil
}

// IAM's role name rule (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html)
// and STS's session name rule, 2-64 of [\w+=,.@-]
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
var (
	roleNameRE    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	sessionNameRE = regexp.MustCompile(`[^\w+=,.@-]`)
)

// Home reports whether account and region are the hub's own registry, or
// the stack serves one account (no spoke role): every registry is then read
// with the function's own role, as before organizations.
func (r *RegistryAccess) Home(account, region string) bool {
	return r.cfg.RoleName == "" || (account == r.cfg.HomeAccount && region == r.cfg.HomeRegion)
}

// RoleARN is the spoke role in account, in the partition of region.
func (r *RegistryAccess) RoleARN(account, region string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", taggerPartition(region), account, r.cfg.RoleName)
}

// RoleError says that the spoke role of a registry could not be assumed or
// was refused what the hub needs: a member's configuration to fix, which
// no retry cures.
type RoleError struct {
	Role string
	Err  error
}

func (e *RoleError) Error() string {
	return fmt.Sprintf("spoke role %s: %v", e.Role, e.Err)
}

func (e *RoleError) Unwrap() error { return e.Err }

// Config returns the configuration for the registry of account in region.
// session identifies the work (a digest) in the member's CloudTrail. An
// STS refusal (the role missing, or its trust policy not naming this
// function's role) is a *RoleError; other failures (throttling, network)
// are returned as they are, for a retry.
func (r *RegistryAccess) Config(ctx context.Context, account, region, session string) (aws.Config, error) {
	cfg := r.base.Copy()
	cfg.Region = region
	if r.Home(account, region) {
		return cfg, nil
	}
	role := r.RoleARN(account, region)
	c, err := r.credentials(ctx, role, region, r.sessionName(session))
	if err != nil {
		return aws.Config{}, err
	}
	cfg.Credentials = aws.NewCredentialsCache(credentialsValue{c})
	return cfg, nil
}

// sessionName is "ecrscan-<function>-<session>", within STS's limits.
func (r *RegistryAccess) sessionName(session string) string {
	s := sessionNameRE.ReplaceAllString("ecrscan-"+r.cfg.Function+"-"+session, "-")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// Credentials returns the spoke role's credentials for the registry of
// account in region (errors as Config's). The home registry has none: its
// caller keeps the function's own.
func (r *RegistryAccess) Credentials(ctx context.Context, account, region, session string) (aws.Credentials, bool, error) {
	if r.Home(account, region) {
		return aws.Credentials{}, false, nil
	}
	cfg, err := r.Config(ctx, account, region, session)
	if err != nil {
		return aws.Credentials{}, false, err
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	return c, true, err
}

func (r *RegistryAccess) credentials(ctx context.Context, role, region, session string) (aws.Credentials, error) {
	key := role + "|" + region + "|" + session
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, c := range r.creds {
		if now.After(c.Expires.Add(-credentialsMargin)) {
			delete(r.creds, k)
		}
	}
	if c, ok := r.creds[key]; ok {
		return c, nil
	}
	out, err := r.sts.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(role),
		RoleSessionName: aws.String(session),
		DurationSeconds: aws.Int32(int32(AssumedSessionDuration / time.Second)),
	})
	if err != nil {
		if IsAccessDenied(err) {
			return aws.Credentials{}, &RoleError{Role: role, Err: fmt.Errorf("cannot be assumed (is the spoke stack deployed in that account, trusting this hub's roles?): %w", err)}
		}
		return aws.Credentials{}, fmt.Errorf("assume spoke role %s: %w", role, err)
	}
	if out.Credentials == nil {
		return aws.Credentials{}, fmt.Errorf("assume spoke role %s: STS returned no credentials", role)
	}
	c := aws.Credentials{
		AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken), CanExpire: true, Expires: aws.ToTime(out.Credentials.Expiration),
		Source: "ecrscan spoke role",
	}
	r.creds[key] = c
	return c, nil
}

// credentialsValue provides fixed credentials (they expire with the session).
type credentialsValue struct{ c aws.Credentials }

func (v credentialsValue) Retrieve(context.Context) (aws.Credentials, error) { return v.c, nil }

// IsAccessDenied reports whether err is an AWS refusal of the caller's
// permissions (STS's AccessDenied, ECR's AccessDeniedException), as opposed
// to a throttle or a network failure.
func IsAccessDenied(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NoSuchEntity":
		return true
	}
	return false
}

// AsRoleError turns an access refusal met with a spoke role's credentials
// into a *RoleError naming the role; other errors are returned as they are.
func (r *RegistryAccess) AsRoleError(account, region string, err error) error {
	var re *RoleError
	if err == nil || r.Home(account, region) || errors.As(err, &re) || !IsAccessDenied(err) {
		return err
	}
	return &RoleError{Role: r.RoleARN(account, region), Err: fmt.Errorf("refused what the hub needs (is the role's policy the spoke template's?): %w", err)}
}

// RegistryInspector inspects each image in its own registry: with the
// function's own client in the hub's, with the spoke role's elsewhere.
type RegistryInspector struct {
	access *RegistryAccess
	home   domain.ImageInspector
}

var _ domain.ImageInspector = RegistryInspector{}

// NewRegistryInspector routes through access; home inspects the hub's own
// registry.
func NewRegistryInspector(access *RegistryAccess, home domain.ImageInspector) (RegistryInspector, error) {
	if access == nil || home == nil {
		return RegistryInspector{}, errors.New("ecrstore: registry inspector needs registry access and a home inspector")
	}
	return RegistryInspector{access: access, home: home}, nil
}

// Inspect is Inspector.Inspect in ref's registry. A refusal met with the
// spoke role's credentials is a *RoleError.
func (i RegistryInspector) Inspect(ctx context.Context, ref domain.ImageRef) (domain.ImageInfo, error) {
	if i.access.Home(ref.Account, ref.Region) {
		return i.home.Inspect(ctx, ref)
	}
	cfg, err := i.access.Config(ctx, ref.Account, ref.Region, ref.Digest.Short())
	if err != nil {
		return domain.ImageInfo{}, err
	}
	info, err := (&Inspector{client: ecr.NewFromConfig(cfg)}).Inspect(ctx, ref)
	return info, i.access.AsRoleError(ref.Account, ref.Region, err)
}

// Settings is what a function's RegistryAccess is configured by in its
// environment: SPOKE_ROLE_NAME (empty: a single-account stack) and, when
// that is set, HUB_ACCOUNT; region is the function's own.
type Settings interface {
	String(name, def string) string
	Required(name string) string
}

// RegistryAccessSettings reads a RegistryAccessConfig for function.
func RegistryAccessSettings(env Settings, region, function string) RegistryAccessConfig {
	c := RegistryAccessConfig{HomeRegion: region, RoleName: env.String("SPOKE_ROLE_NAME", ""), Function: function}
	if c.RoleName != "" {
		c.HomeAccount = env.Required("HUB_ACCOUNT")
	}
	return c
}
