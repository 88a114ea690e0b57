package local

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ecrscanner/domain"
)

// ProbeRegistry is where ecrscan verify --probe pushes on the local stack:
// the image goes to this Registry (where the tag function attaches its
// referrer) and into moto's ECR (where the scan function reads it), and,
// since moto's ECR emits no events, the push event goes on the default bus
// as ECR would put it there.
type ProbeRegistry struct {
	Registry *Registry
	ECR      *ecr.Client
	Events   *eventbridge.Client
}

// Push publishes img as repo:tag and announces the push.
func (p ProbeRegistry) Push(ctx context.Context, account, region, repo, tag string, img v1.Image) (domain.ImageRef, error) {
	ref, err := p.Registry.publish(ctx, p.ECR, img, account, region, repo, tag)
	if err != nil {
		return domain.ImageRef{}, err
	}
	out, err := p.Events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("aws.ecr"), DetailType: aws.String("ECR Image Action"), Resources: []string{RepositoryARN(ref)},
		Detail: aws.String(fmt.Sprintf(`{"result":"SUCCESS","repository-name":%q,"image-digest":%q,"action-type":"PUSH","image-tag":%q}`, ref.Repository, ref.Digest, ref.Tag)),
	}}})
	if err != nil {
		return ref, fmt.Errorf("put the push event: %w", err)
	}
	if out.FailedEntryCount > 0 {
		return ref, fmt.Errorf("put the push event: %s", aws.ToString(out.Entries[0].ErrorMessage))
	}
	return ref, nil
}

// Referrers lists the digests of ref's referrers in this registry.
func (p ProbeRegistry) Referrers(_ context.Context, ref domain.ImageRef) ([]string, error) {
	ds, err := p.Registry.Referrers(ref)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest.String())
	}
	return out, nil
}
