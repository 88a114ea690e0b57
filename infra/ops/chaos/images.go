package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/local"
)

// Build is the image's content: one layer of bytes from its seed, so the
// same plan pushes the same digests on every run.
func (img Image) Build() (v1.Image, error) {
	rng := rand.New(rand.NewPCG(img.Seed, uint64(img.Index)))
	content := make([]byte, 512)
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	out, err := mutate.AppendLayers(empty.Image, static.NewLayer(content, types.DockerLayer))
	if err != nil {
		return nil, fmt.Errorf("image %d: %w", img.Index, err)
	}
	return out, nil
}

// publish pushes every ref of the plan to the registry and to moto's ECR,
// and returns each image's digest.
func publish(ctx context.Context, p *Plan, reg *local.Registry, client *ecr.Client) ([]domain.Digest, []domain.ImageRef, error) {
	built := make([]v1.Image, len(p.Images))
	for i, img := range p.Images {
		b, err := img.Build()
		if err != nil {
			return nil, nil, err
		}
		built[i] = b
	}
	digests := make([]domain.Digest, len(p.Images))
	refs := make([]domain.ImageRef, len(p.Refs))
	for i, r := range p.Refs {
		ref, err := reg.Publish(ctx, client, built[r.Image], local.Account, local.Region, r.Repository, r.Tag)
		if err != nil {
			return nil, nil, fmt.Errorf("publish image %d as %s:%s: %w", r.Image, r.Repository, r.Tag, err)
		}
		refs[i] = ref
		if digests[r.Image] != "" && digests[r.Image] != ref.Digest {
			return nil, nil, fmt.Errorf("image %d has two digests: %s and %s", r.Image, digests[r.Image], ref.Digest)
		}
		digests[r.Image] = ref.Digest
	}
	return digests, refs, nil
}
