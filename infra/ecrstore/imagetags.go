package ecrstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"ecrscanner/domain"
)

// DescribeAPI is the part of the ECR client that ImageTags uses.
type DescribeAPI interface {
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// ImageTags tells which tags of a repository point at an image now. It is
// safe for concurrent use.
type ImageTags struct {
	client DescribeAPI
}

// NewImageTags returns an ImageTags using client.
func NewImageTags(client DescribeAPI) (*ImageTags, error) {
	if client == nil {
		return nil, errors.New("ecrstore: nil ECR client")
	}
	return &ImageTags{client: client}, nil
}

// TagsOf returns the tags that point at ref.Digest in ref's repository (in
// the registry of ref.Account, in ref.Region), read from ECR now; ref.Tag is
// ignored. An image or repository that is gone has no tags: nil and no
// error. Other errors may be retried.
func (t *ImageTags) TagsOf(ctx context.Context, ref domain.ImageRef) ([]string, error) {
	where := "tags of " + ref.Repository + "@" + ref.Digest.String()
	out, err := t.client.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId:     aws.String(ref.Account),
		RepositoryName: aws.String(ref.Repository),
		ImageIds:       []types.ImageIdentifier{{ImageDigest: aws.String(ref.Digest.String())}},
	}, taggerRegion(ref.Region))
	if err != nil {
		var repo *types.RepositoryNotFoundException
		var img *types.ImageNotFoundException
		if errors.As(err, &repo) || errors.As(err, &img) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	var tags []string
	for _, d := range out.ImageDetails {
		if aws.ToString(d.ImageDigest) != ref.Digest.String() {
			continue
		}
		tags = append(tags, d.ImageTags...)
	}
	return tags, nil
}
