package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/lambdaenv"
	"ecrscanner/infra/metrics"
	"ecrscanner/infra/qscanner"
	"ecrscanner/infra/startup"
)

// Organization is what the scan function serves beyond its own registry
// when the stack is an organization's hub (SPOKE_ROLE_NAME set). The zero
// value serves every event as a single-account stack always has.
type Organization struct {
	// HomeAccount and HomeRegion are the hub's own (HUB_ACCOUNT, AWS_REGION).
	HomeAccount, HomeRegion string
	// RoleName is the spoke role each member account has (SPOKE_ROLE_NAME).
	RoleName string
	// Members, when not empty, are the only other accounts served
	// (MEMBER_ACCOUNTS); the ingress bus's policy admits only the
	// organization's accounts in the first place.
	Members []string
	// Regions are the registry regions served (SERVED_REGIONS); the hub's
	// own region when empty.
	Regions []string
}

// OutcomeRefused: an event from an account or region this hub does not
// serve; it is dead-lettered with the reason, never scanned.
const OutcomeRefused Outcome = "refused"

// refusal says why ref is not this hub's to scan, or "" when it is. The bus
// policy already refuses PutEvents from outside the organization; this
// check holds the line when a rule or a policy is misconfigured.
func (o Organization) refusal(ref domain.ImageRef) string {
	if o.RoleName == "" || (ref.Account == o.HomeAccount && ref.Region == o.HomeRegion) {
		return ""
	}
	regions := o.Regions
	if len(regions) == 0 {
		regions = []string{o.HomeRegion}
	}
	if !slices.Contains(regions, ref.Region) {
		return fmt.Sprintf("region %s is not served by this hub (SERVED_REGIONS: %s)", ref.Region, strings.Join(regions, ","))
	}
	if ref.Account != o.HomeAccount && len(o.Members) > 0 && !slices.Contains(o.Members, ref.Account) {
		return fmt.Sprintf("account %s is not one of the member accounts this hub serves (MEMBER_ACCOUNTS)", ref.Account)
	}
	return ""
}

// SetOrganization makes h serve org's registries.
func (h *Handler) SetOrganization(org Organization) { h.org = org }

// refuse dead-letters an event the hub does not serve, with the reason,
// and counts it (EventRefused).
func (h *Handler) refuse(ctx context.Context, ref domain.ImageRef) error {
	reason := h.org.refusal(ref)
	if reason == "" {
		return nil
	}
	h.logger.WarnContext(ctx, "event refused", slog.String(attr.Reason, reason),
		slog.String("account", ref.Account), slog.String("region", ref.Region), slog.String(attr.Repository, ref.Repository))
	h.emit(ctx, metrics.Metric{Name: "EventRefused", Value: 1, Unit: metrics.Count})
	return consume.Permanent(fmt.Errorf("refuse event for %s in %s/%s: %s", ref.Display(), ref.Account, ref.Region, reason))
}

// spokeRoleFailed records a scan whose registry's spoke role could not be
// assumed or was refused what the hub needs as ScanFailed, with a reason
// naming the role: a member's configuration to fix, which no retry cures.
// ok is false for any other error.
func (h *Handler) spokeRoleFailed(ctx context.Context, ref domain.ImageRef, log *slog.Logger, err error) (Outcome, bool, error) {
	var re *ecrstore.RoleError
	if !errors.As(err, &re) {
		return "", false, nil
	}
	a := h.newAttempt(ctx, ref, log, h.now())
	if out, err := h.claim(ctx, a); out != "" || err != nil {
		return out, true, err
	}
	out, err := h.fail(ctx, a, roleFailure(re), nil)
	return out, true, err
}

func roleFailure(re *ecrstore.RoleError) domain.Failure {
	return domain.Failure{Class: domain.FailureRegistryAuth, Reason: domain.Truncate(re.Error(), 1024, domain.Ellipsis)}
}

// registryEnv hands QScanner the registry account's credentials and region
// when the image is not in the hub's own registry.
func registryEnv(access *ecrstore.RegistryAccess) func(ctx context.Context, ref domain.ImageRef) (map[string]string, error) {
	return func(ctx context.Context, ref domain.ImageRef) (map[string]string, error) {
		c, ok, err := access.Credentials(ctx, ref.Account, ref.Region, ref.Digest.Short())
		var re *ecrstore.RoleError
		switch {
		case errors.As(err, &re):
			return nil, roleFailure(re)
		case err != nil || !ok:
			return nil, err
		}
		return map[string]string{
			"AWS_ACCESS_KEY_ID": c.AccessKeyID, "AWS_SECRET_ACCESS_KEY": c.SecretAccessKey, "AWS_SESSION_TOKEN": c.SessionToken,
			"AWS_REGION": ref.Region, "AWS_DEFAULT_REGION": ref.Region,
		}, nil
	}
}

// loadOrganization reads the hub's settings (beside access's); all empty
// for a single-account stack.
func loadOrganization(env *lambdaenv.Env, access ecrstore.RegistryAccessConfig) Organization {
	return Organization{
		HomeAccount: access.HomeAccount,
		HomeRegion:  access.HomeRegion,
		RoleName:    access.RoleName,
		Members:     env.List("MEMBER_ACCOUNTS", nil),
		Regions:     env.List("SERVED_REGIONS", nil),
	}
}

// organize wires the hub's reach into member registries: inspection and
// QScanner's pull in each image's own registry. home inspects the hub's.
func organize(d startup.Deps, runner *qscanner.Runner, home domain.ImageInspector) (domain.ImageInspector, Organization) {
	settings := ecrstore.RegistryAccessSettings(d.Env, d.AWS.Region, "scan")
	org := loadOrganization(d.Env, settings)
	access, err := ecrstore.NewRegistryAccess(sts.NewFromConfig(d.AWS), d.AWS, settings)
	d.Env.Check(err)
	if err != nil || home == nil || runner == nil {
		return home, org
	}
	routed, err := ecrstore.NewRegistryInspector(access, home)
	d.Env.Check(err)
	runner.SetRegistryEnv(registryEnv(access))
	return routed, org
}
