package main

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
