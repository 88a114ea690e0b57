package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"ecrscanner/domain"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/startup"
)

// findingAccount is the AwsAccountId of the image's findings: the hub's own
// account (the product's), whichever member account holds the registry.
// With the default product ARN, BatchImportFindings accepts only findings
// whose AwsAccountId is the calling account's ("the identifier of the
// account that you are calling BatchImportFindings from needs to be the
// same as the AwsAccountId attribute for the finding"):
// https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html
// The registry's account and region stay named where the image is: the
// resource's Id (the repository ARN), Region and RegistryId.
func (im image) findingAccount() string {
	if im.product.Account != "" {
		return im.product.Account
	}
	return im.account
}

// ServeMembers makes h import the findings of images in other accounts and
// regions too, as an organization's hub does (ORGANIZATION_ID set). A
// single-account stack keeps refusing them: such an event means a
// misrouted rule, not an image of its own.
func (h *Handler) ServeMembers(on bool) { h.members = on }

// registryTags reads an image's tags in its own registry: a member's
// through its spoke role (SPOKE_ROLE_NAME), the hub's with the function's
// own client.
type registryTags struct {
	access *ecrstore.RegistryAccess
	home   imageTags
}

func (t registryTags) TagsOf(ctx context.Context, ref domain.ImageRef) ([]string, error) {
	if t.access.Home(ref.Account, ref.Region) {
		return t.home.TagsOf(ctx, ref)
	}
	cfg, err := t.access.Config(ctx, ref.Account, ref.Region, "tags")
	if err != nil {
		return nil, err
	}
	tags, err := ecrstore.NewImageTags(ecr.NewFromConfig(cfg))
	if err != nil {
		return nil, err
	}
	got, err := tags.TagsOf(ctx, ref)
	return got, t.access.AsRoleError(ref.Account, ref.Region, err)
}

// memberTags wraps home to read each registry's tags where it is.
func memberTags(d startup.Deps, home imageTags) imageTags {
	access, err := ecrstore.NewRegistryAccess(sts.NewFromConfig(d.AWS), d.AWS, ecrstore.RegistryAccessSettings(d.Env, d.AWS.Region, "securityhub"))
	d.Env.Check(err)
	if err != nil {
		return home
	}
	return registryTags{access: access, home: home}
}
