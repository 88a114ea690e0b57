package ecrstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/mototest"
)

// DescribeDigests on moto: present images are described, a deleted one is
// absent from the answer (the batch that named it asked again digest by
// digest), and a repository that is gone is ErrNotFound.
func TestDescribeDigestsOnMoto(t *testing.T) {
	ctx := context.Background()
	client := ecr.NewFromConfig(mototest.Config(t))
	repo := mototest.UniqueName("team/usage")
	if _, err := mototest.CreateRepository(ctx, client, repo); err != nil {
		t.Fatal(err)
	}
	var present []domain.Digest
	for i := range 3 {
		raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%064x","size":2},"layers":[]}`, i+1)
		present = append(present, pushManifest(t, client, repo, fmt.Sprintf("v%d", i), "application/vnd.oci.image.manifest.v1+json", []byte(raw)))
	}
	deleted := domain.Digest("sha256:" + strings.Repeat("d", 64))
	got, err := DescribeDigests(ctx, client, "", "", repo, append([]domain.Digest{deleted}, present...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("described %d images, want the 3 present: %v", len(got), got)
	}
	for _, d := range present {
		u, ok := got[d]
		if !ok || u.PushedAt.IsZero() || u.PushedAt.After(time.Now().Add(time.Minute)) || u.Kind != domain.ArtifactImage || len(u.Tags) != 1 {
			t.Errorf("%s: %+v, %v", d, u, ok)
		}
	}
	if _, ok := got[deleted]; ok {
		t.Error("a deleted image was described")
	}
	_, err = DescribeDigests(ctx, client, "", "", repo+"-gone", present)
	if !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("DescribeDigests(missing repository) = %v, want ErrNotFound", err)
	}
}

// What DescribeImages tells of an artifact: its artifactMediaType, or the
// tag cosign gives it.
func TestUsageOfArtifacts(t *testing.T) {
	for name, tc := range map[string]struct {
		det  ecrtypes.ImageDetail
		want domain.ArtifactKind
	}{
		"image":          {ecrtypes.ImageDetail{ImageTags: []string{"v1"}}, domain.ArtifactImage},
		"spdx sbom":      {ecrtypes.ImageDetail{ArtifactMediaType: aws.String("application/spdx+json")}, domain.ArtifactSBOM},
		"cosign sig tag": {ecrtypes.ImageDetail{ImageTags: []string{"sha256-" + strings.Repeat("a", 64) + ".sig"}}, domain.ArtifactSignature},
		"cosign att tag": {ecrtypes.ImageDetail{ImageTags: []string{"sha256-" + strings.Repeat("a", 64) + ".att"}}, domain.ArtifactAttestation},
	} {
		if got := UsageOf(tc.det).Kind; got != tc.want {
			t.Errorf("%s: kind %q, want %q", name, got, tc.want)
		}
	}
}
