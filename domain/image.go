// Package domain holds the scanner's core model: images and their digests,
// findings and severities, the scan lifecycle that doubles as the cache, the
// alert policy, and the ports the handlers depend on. It imports only the
// standard library.
package domain

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Validation errors. Each wraps ErrInvalid so callers can sort bad input from
// infrastructure failures with a single errors.Is.
var (
	ErrInvalid           = errors.New("invalid")
	ErrInvalidDigest     = fmt.Errorf("%w digest", ErrInvalid)
	ErrInvalidRepository = fmt.Errorf("%w repository", ErrInvalid)
	ErrInvalidTag        = fmt.Errorf("%w tag", ErrInvalid)
	ErrInvalidAccount    = fmt.Errorf("%w account", ErrInvalid)
	ErrInvalidRegion     = fmt.Errorf("%w region", ErrInvalid)
)

var (
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	// ECR's documented repository name rule.
	repositoryRE = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	// The tag alphabet; ValidateTag checks the length apart, so that its
	// message says which of the two rules a tag broke.
	tagRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	// Every partition's region names (aws, aws-cn, aws-us-gov, aws-eusc and
	// the isolated ones), with bounded parts since the name becomes a host.
	regionRE = regexp.MustCompile(`^[a-z]{2,4}(?:-[a-z]{1,12}){1,3}-[0-9]{1,2}$`)
)

// Digest is a validated content digest of an image manifest: "sha256:" and 64
// lowercase hex characters. The zero value is not a valid digest.
type Digest string

// ParseDigest validates s as an image digest.
func ParseDigest(s string) (Digest, error) {
	if !digestRE.MatchString(s) {
		return "", fmt.Errorf("%w %q: want sha256: followed by 64 lowercase hex characters", ErrInvalidDigest, echo(s))
	}
	return Digest(s), nil
}

// Hex returns the digest without its algorithm prefix.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), "sha256:") }

func (d Digest) String() string { return string(d) }

// Short returns the first 12 hex characters, as registries display digests.
func (d Digest) Short() string {
	h := d.Hex()
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// ValidateRepository checks ECR's repository naming rule: lowercase, 2–256
// characters, slash-separated components of alphanumerics joined by '.', '_'
// or '-'.
func ValidateRepository(name string) error {
	if len(name) < 2 || len(name) > 256 || !repositoryRE.MatchString(name) {
		return fmt.Errorf("%w %q: want 2-256 lowercase characters matching ECR's naming rule", ErrInvalidRepository, echo(name))
	}
	return nil
}

// MaxTagLen is the longest image tag ECR stores: the ECR API's ImageTag
// shape (ImageIdentifier.imageTag, PutImage's imageTag) is a string of 1 to
// 300 characters (Amazon ECR API Reference, "ImageIdentifier": "Length
// Constraints: Minimum length of 1. Maximum length of 300.").
const MaxTagLen = 300

// ValidateTag checks an image tag: 1 to MaxTagLen characters of the OCI
// tag alphabet, [A-Za-z0-9_] first and [A-Za-z0-9_.-] after. The empty tag
// (an untagged push) is valid.
//
// The two limits come from different documents. The OCI distribution spec's
// tag grammar, [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, caps a tag at 128
// characters, which is why docker, crane and other registry clients stop
// there. ECR's own API allows 300 (MaxTagLen) and tags pushed through it
// raise the same push events, so a longer tag is a real image that must be
// scanned, not bad input to dead-letter. ECR documents no character set for
// tags beyond the length; the OCI alphabet is what a registry client can
// push, and it keeps shell metacharacters, whitespace and path separators
// out of every place a tag is written.
func ValidateTag(tag string) error {
	switch {
	case tag == "":
		return nil
	case len(tag) > MaxTagLen:
		return fmt.Errorf("%w %q: %d characters, over ECR's limit of %d", ErrInvalidTag, echo(tag), len(tag), MaxTagLen)
	case !tagRE.MatchString(tag):
		return fmt.Errorf("%w %q: want [A-Za-z0-9_] then [A-Za-z0-9_.-], at most %d characters", ErrInvalidTag, echo(tag), MaxTagLen)
	}
	return nil
}

// ImageRef names one image in one ECR repository: where it lives, its content
// digest and the tag it was pushed with (empty when pushed by digest).
// Build it with NewImageRef so that every field has been validated.
type ImageRef struct {
	Account    string `json:"account"`
	Region     string `json:"region"`
	Repository string `json:"repository"`
	Digest     Digest `json:"digest"`
	Tag        string `json:"tag,omitempty"`
}

// NewImageRef validates every part of an image reference and reports all the
// problems it finds at once.
func NewImageRef(account, region, repository, digest, tag string) (ImageRef, error) {
	var errs []error
	if !accountRE.MatchString(account) {
		errs = append(errs, fmt.Errorf("%w %q: want 12 digits", ErrInvalidAccount, echo(account)))
	}
	if !regionRE.MatchString(region) {
		errs = append(errs, fmt.Errorf("%w %q: want an AWS region name such as us-east-1", ErrInvalidRegion, echo(region)))
	}
	if err := ValidateRepository(repository); err != nil {
		errs = append(errs, err)
	}
	d, err := ParseDigest(digest)
	if err != nil {
		errs = append(errs, err)
	}
	if err := ValidateTag(tag); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return ImageRef{}, errors.Join(errs...)
	}
	return ImageRef{Account: account, Region: region, Repository: repository, Digest: d, Tag: tag}, nil
}

// Registry is the ECR registry host of the reference, under the DNS suffix
// of the region's partition.
func (r ImageRef) Registry() string {
	return fmt.Sprintf("%s.dkr.ecr.%s.%s", r.Account, r.Region, dnsSuffix(r.Region))
}

// partitionSuffixes maps region name prefixes to their partition's DNS
// suffix, as in the AWS SDK's partitions.json; other regions use
// amazonaws.com.
var partitionSuffixes = []struct{ prefix, suffix string }{
	{"cn-", "amazonaws.com.cn"},
	{"eusc-", "amazonaws.eu"},
	{"us-iso-", "c2s.ic.gov"},
	{"us-isob-", "sc2s.sgov.gov"},
	{"us-isof-", "csp.hci.ic.gov"},
	{"eu-isoe-", "cloud.adc-e.uk"},
}

func dnsSuffix(region string) string {
	for _, p := range partitionSuffixes {
		if strings.HasPrefix(region, p.prefix) {
			return p.suffix
		}
	}
	return "amazonaws.com"
}

// Name is the pullable reference by digest: registry/repository@digest.
func (r ImageRef) Name() string {
	return fmt.Sprintf("%s/%s@%s", r.Registry(), r.Repository, r.Digest)
}

// Display is the short human form used in alerts and logs: repository:tag, or
// repository@sha256:<12 hex> for an untagged image.
func (r ImageRef) Display() string {
	if r.Tag != "" {
		return r.Repository + ":" + r.Tag
	}
	return r.Repository + "@sha256:" + r.Digest.Short()
}

// SameLocation reports whether two references point at the same repository in
// the same account and region, whatever their tags.
func (r ImageRef) SameLocation(o ImageRef) bool {
	return r.Account == o.Account && r.Region == o.Region && r.Repository == o.Repository
}

// echoLimit bounds untrusted input echoed into error messages.
const echoLimit = 80

// echo is untrusted input cut to echoLimit for an error message.
func echo(s string) string { return Truncate(s, echoLimit, Ellipsis) }
