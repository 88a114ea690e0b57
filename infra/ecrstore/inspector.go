// Package ecrstore talks to Amazon ECR about pushed images: what a pushed
// manifest is (an image, an index, or an artifact to skip), the repository's
// scan labels and the per-image summary referrer.
package ecrstore

import (
	"context"
	"errors"
	"fmt"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ImageAPI is the part of the ECR client that Inspector uses.
type ImageAPI interface {
	BatchGetImage(ctx context.Context, in *ecr.BatchGetImageInput, optFns ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error)
}

// Inspector reads a pushed manifest from ECR and classifies it. It is safe
// for concurrent use.
type Inspector struct {
	client ImageAPI
}

var _ domain.ImageInspector = (*Inspector)(nil)

// NewInspector returns an Inspector using client.
func NewInspector(client ImageAPI) (*Inspector, error) {
	if client == nil {
		return nil, errors.New("ecrstore: nil ECR client")
	}
	return &Inspector{client: client}, nil
}

// Inspect fetches the manifest of ref (by digest, from the registry of
// ref.Account) and classifies it with Classify. A missing image or repository
// is an error wrapping domain.ErrNotFound; a manifest that cannot be read is
// one wrapping domain.ErrInvalid.
func (i *Inspector) Inspect(ctx context.Context, ref domain.ImageRef) (domain.ImageInfo, error) {
	where := ref.Repository + "@" + ref.Digest.String()
	out, err := i.client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId:         aws.String(ref.Account),
		RepositoryName:     aws.String(ref.Repository),
		ImageIds:           []types.ImageIdentifier{{ImageDigest: aws.String(ref.Digest.String())}},
		AcceptedMediaTypes: acceptedMediaTypes,
	})
	if err != nil {
		var repo *types.RepositoryNotFoundException
		var img *types.ImageNotFoundException
		if errors.As(err, &repo) || errors.As(err, &img) {
			return domain.ImageInfo{}, fmt.Errorf("inspect %s: %w: %w", where, domain.ErrNotFound, err)
		}
		return domain.ImageInfo{}, fmt.Errorf("inspect %s: %w", where, err)
	}
	for _, im := range out.Images {
		if im.ImageId != nil && aws.ToString(im.ImageId.ImageDigest) != "" && aws.ToString(im.ImageId.ImageDigest) != ref.Digest.String() {
			continue
		}
		if im.ImageManifest == nil {
			return domain.ImageInfo{}, fmt.Errorf("inspect %s: registry returned no manifest", where)
		}
		info, err := Classify(aws.ToString(im.ImageManifestMediaType), []byte(*im.ImageManifest))
		if err != nil {
			return domain.ImageInfo{}, fmt.Errorf("inspect %s: %w", where, err)
		}
		return info, nil
	}
	for _, f := range out.Failures {
		if f.FailureCode == types.ImageFailureCodeImageNotFound {
			return domain.ImageInfo{}, fmt.Errorf("inspect %s: %w: %s", where, domain.ErrNotFound, aws.ToString(f.FailureReason))
		}
		return domain.ImageInfo{}, fmt.Errorf("inspect %s: %s: %s", where, f.FailureCode, aws.ToString(f.FailureReason))
	}
	return domain.ImageInfo{}, fmt.Errorf("inspect %s: registry returned neither the image nor a failure", where)
}
