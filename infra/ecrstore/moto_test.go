package ecrstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/mototest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// pushManifest puts raw into repo as ECR would store a push of it. moto
// computes a digest of its own (from the layer digests) unless given one, so
// the test passes the real one, sha256 of the manifest bytes, as ECR
// computes it, and checks that moto kept it.
func pushManifest(t *testing.T, client *ecr.Client, repo, tag, mediaType string, raw []byte) domain.Digest {
	t.Helper()
	sum := sha256.Sum256(raw)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	out, err := client.PutImage(context.Background(), &ecr.PutImageInput{
		RepositoryName:         aws.String(repo),
		ImageManifest:          aws.String(string(raw)),
		ImageManifestMediaType: aws.String(mediaType),
		ImageDigest:            aws.String(digest),
		ImageTag:               aws.String(tag),
	})
	if err != nil {
		t.Fatalf("PutImage: %v", err)
	}
	got := aws.ToString(out.Image.ImageId.ImageDigest)
	if got != digest {
		t.Fatalf("PutImage returned digest %s, want %s", got, digest)
	}
	d, err := domain.ParseDigest(got)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMotoInspect(t *testing.T) {
	client := ecr.NewFromConfig(mototest.Config(t))
	ctx := context.Background()
	repo := mototest.UniqueName("scan/app")
	registry, err := mototest.CreateRepository(ctx, client, repo)
	if err != nil {
		t.Fatalf("CreateRepository: %v", err)
	}
	again, err := mototest.CreateRepository(ctx, client, repo)
	if err != nil || again != registry {
		t.Errorf("second CreateRepository = %q, %v; want %q", again, err, registry)
	}
	insp, err := NewInspector(client)
	if err != nil {
		t.Fatal(err)
	}

	for i, tc := range fixtures {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			d := pushManifest(t, client, repo, "fixture-"+string(rune('a'+i)), tc.mediaType, readFixture(t, tc.file))
			ref, err := domain.NewImageRef(registry, mototest.Region, repo, d.String(), "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := insp.Inspect(ctx, ref)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Inspect = %+v, want %+v", got, tc.want)
			}
		})
	}

	t.Run("digest never pushed", func(t *testing.T) {
		ref, _ := domain.NewImageRef(registry, mototest.Region, repo, "sha256:"+strings.Repeat("0", 64), "")
		if _, err := insp.Inspect(ctx, ref); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("error = %v, want one wrapping domain.ErrNotFound", err)
		}
	})
	t.Run("repository missing", func(t *testing.T) {
		ref, _ := domain.NewImageRef(registry, mototest.Region, mototest.UniqueName("absent"), testDigest, "")
		if _, err := insp.Inspect(ctx, ref); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("error = %v, want one wrapping domain.ErrNotFound", err)
		}
	})
}
