package main

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/startup"
)

// An organization's hub tags each repository and attaches each summary in
// the registry's own account and region, through the spoke role there
// (SPOKE_ROLE_NAME, as the scan function); the hub's own registry, and
// every registry of a single-account stack, with the function's own role.

// registryTagger is a RepositoryTagger acting in each repository's registry.
type registryTagger struct {
	access *ecrstore.RegistryAccess
	home   RepositoryTagger
}

// registryReferrers is a SummaryAttacher acting in each image's registry.
type registryReferrers struct {
	access *ecrstore.RegistryAccess
	home   SummaryAttacher
	cfg    ecrstore.ReferrersConfig
}

// labelsSession names the tag function's sessions in member accounts: the
// labels are per repository, not per scan.
const labelsSession = "labels"

func (t registryTagger) tagger(ctx context.Context, repo ecrstore.RepositoryRef) (RepositoryTagger, error) {
	if t.access.Home(repo.Account, repo.Region) {
		return t.home, nil
	}
	cfg, err := t.access.Config(ctx, repo.Account, repo.Region, labelsSession)
	if err != nil {
		return nil, roleErr(err)
	}
	return ecrstore.NewTagger(ecr.NewFromConfig(cfg))
}

func (t registryTagger) LastScan(ctx context.Context, repo ecrstore.RepositoryRef) (ecrstore.RecordedScan, bool, error) {
	tg, err := t.tagger(ctx, repo)
	if err != nil {
		return ecrstore.RecordedScan{}, false, err
	}
	rec, ok, err := tg.LastScan(ctx, repo)
	return rec, ok, roleErr(t.access.AsRoleError(repo.Account, repo.Region, err))
}

func (t registryTagger) TagRepository(ctx context.Context, repo ecrstore.RepositoryRef, s ecrstore.ScanSummary) error {
	tg, err := t.tagger(ctx, repo)
	if err != nil {
		return err
	}
	return roleErr(t.access.AsRoleError(repo.Account, repo.Region, tg.TagRepository(ctx, repo, s)))
}

func (r registryReferrers) PutSummary(ctx context.Context, ref domain.ImageRef, s ecrstore.ScanSummary) (string, error) {
	if r.access.Home(ref.Account, ref.Region) {
		return r.home.PutSummary(ctx, ref, s)
	}
	cfg, err := r.access.Config(ctx, ref.Account, ref.Region, ref.Digest.Short())
	if err != nil {
		return "", roleErr(err)
	}
	refs, err := ecrstore.NewReferrers(ecr.NewFromConfig(cfg), r.cfg)
	if err != nil {
		return "", err
	}
	digest, err := refs.PutSummary(ctx, ref, s)
	return digest, roleErr(r.access.AsRoleError(ref.Account, ref.Region, err))
}

// roleErr makes a spoke role's failure permanent: the event goes to the
// DLQ with the reason naming the role instead of being retried.
func roleErr(err error) error {
	var re *ecrstore.RoleError
	if errors.As(err, &re) {
		return consume.Permanent(err)
	}
	return err
}

// organize wraps the home tagger and referrers to act in each registry.
func organize(d startup.Deps, tagger RepositoryTagger, referrers SummaryAttacher, cfg ecrstore.ReferrersConfig) (RepositoryTagger, SummaryAttacher) {
	access, err := ecrstore.NewRegistryAccess(sts.NewFromConfig(d.AWS), d.AWS, ecrstore.RegistryAccessSettings(d.Env, d.AWS.Region, "tag"))
	d.Env.Check(err)
	if err != nil {
		return tagger, referrers
	}
	return registryTagger{access: access, home: tagger}, registryReferrers{access: access, home: referrers, cfg: cfg}
}
