package ecrstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"ecrscanner/domain"
)

// UsageAPI is the part of the ECR API that tells whether images are still
// there and when they were pushed and last pulled.
type UsageAPI interface {
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// Usage is what ECR says about one image: when it was pushed, when it was
// last pulled (zero if ECR recorded no pull), its tags, and the kind of
// artifact its media types show (ArtifactImage when they show nothing else;
// the scan function's Inspect has the final word, as on push).
type Usage struct {
	PushedAt   time.Time
	LastPulled time.Time
	Tags       []string
	Kind       domain.ArtifactKind
}

// UsageOf turns DescribeImages' ImageDetail into a Usage. ECR updates
// lastRecordedPullTime at most about once a day
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html),
// which is fine for a window counted in days.
func UsageOf(d ecrtypes.ImageDetail) Usage {
	u := Usage{PushedAt: aws.ToTime(d.ImagePushedAt), LastPulled: aws.ToTime(d.LastRecordedPullTime), Tags: d.ImageTags, Kind: domain.ArtifactImage}
	if k := ArtifactKindOfType(aws.ToString(d.ArtifactMediaType)); k != "" {
		u.Kind = k
	}
	for _, t := range d.ImageTags {
		if k := cosignTagKind(t); k != "" {
			u.Kind = k
		}
	}
	return u
}

// ArtifactKindOfType is the kind of artifact a media type marks (a
// signature, an SBOM, an attestation), or "" when it marks none: the
// classification push uses (Classify), for callers that have only
// DescribeImages' artifactMediaType.
func ArtifactKindOfType(t string) domain.ArtifactKind { return kindOfType(t) }

// cosignTagKind reads the tag cosign gives what it attaches to an image
// (sha256-<hex>.sig, .att, .sbom).
func cosignTagKind(tag string) domain.ArtifactKind {
	if !strings.HasPrefix(tag, "sha256-") {
		return ""
	}
	switch {
	case strings.HasSuffix(tag, ".sig"):
		return domain.ArtifactSignature
	case strings.HasSuffix(tag, ".att"):
		return domain.ArtifactAttestation
	case strings.HasSuffix(tag, ".sbom"):
		return domain.ArtifactSBOM
	}
	return ""
}

// describeBatch is DescribeImages' limit on imageIds per call
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html:
// imageIds, "Maximum number of 100 items").
const describeBatch = 100

// DescribeDigests looks digests up in one repository, 100 to a call, and
// returns what ECR says of those it has; a digest missing from the map is
// no longer in the repository. A repository that no longer exists is an
// error wrapping domain.ErrNotFound. When a batch names an image ECR does
// not have, DescribeImages fails the whole call (ImageNotFoundException),
// so that batch is asked again one digest at a time. Throttling is retried
// by the client's retryer (the SDK's standard one backs off exponentially
// with jitter); configure its attempts where the client is built.
func DescribeDigests(ctx context.Context, client UsageAPI, account, region, repository string, digests []domain.Digest) (map[domain.Digest]Usage, error) {
	out := make(map[domain.Digest]Usage, len(digests))
	for start := 0; start < len(digests); start += describeBatch {
		batch := digests[start:min(start+describeBatch, len(digests))]
		err := describeInto(ctx, client, account, region, repository, batch, out)
		var missing *ecrtypes.ImageNotFoundException
		if errors.As(err, &missing) && len(batch) > 1 {
			for _, d := range batch {
				err = describeInto(ctx, client, account, region, repository, []domain.Digest{d}, out)
				if err != nil && !errors.As(err, &missing) {
					return nil, err
				}
			}
			err = nil
		}
		if errors.As(err, &missing) {
			err = nil
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func describeInto(ctx context.Context, client UsageAPI, account, region, repository string, digests []domain.Digest, out map[domain.Digest]Usage) error {
	ids := make([]ecrtypes.ImageIdentifier, len(digests))
	for i, d := range digests {
		ids[i] = ecrtypes.ImageIdentifier{ImageDigest: aws.String(d.String())}
	}
	in := &ecr.DescribeImagesInput{RepositoryName: aws.String(repository), ImageIds: ids}
	if account != "" {
		in.RegistryId = aws.String(account)
	}
	p := ecr.NewDescribeImagesPaginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, inRegion(region))
		var noRepo *ecrtypes.RepositoryNotFoundException
		if errors.As(err, &noRepo) {
			return fmt.Errorf("repository %s in %s: %w: %v", repository, region, domain.ErrNotFound, err)
		}
		if err != nil {
			return fmt.Errorf("describe %d image(s) of %s in %s: %w", len(digests), repository, region, err)
		}
		for _, det := range page.ImageDetails {
			if d, err := domain.ParseDigest(aws.ToString(det.ImageDigest)); err == nil {
				out[d] = UsageOf(det)
			}
		}
	}
	return nil
}

// inRegion sends a call to region, or to the client's own when empty.
func inRegion(region string) func(*ecr.Options) {
	return func(o *ecr.Options) {
		if region != "" {
			o.Region = region
		}
	}
}
