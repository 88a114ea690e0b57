package ecrstore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// fakeImages answers BatchGetImage with a canned output or error and keeps
// the last request.
type fakeImages struct {
	out *ecr.BatchGetImageOutput
	err error
	in  *ecr.BatchGetImageInput
}

func (f *fakeImages) BatchGetImage(_ context.Context, in *ecr.BatchGetImageInput, _ ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error) {
	f.in = in
	return f.out, f.err
}

const testDigest = "sha256:6a7a9b6c1a1e9b6f8d4d0d3c9b2f6e5d4c3b2a1908f7e6d5c4b3a29180706050"

func testRef(t *testing.T) domain.ImageRef {
	t.Helper()
	ref, err := domain.NewImageRef("123456789012", "us-east-1", "team/app", testDigest, "v1")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func found(mediaType, manifest string) *ecr.BatchGetImageOutput {
	return &ecr.BatchGetImageOutput{Images: []types.Image{{
		ImageId:                &types.ImageIdentifier{ImageDigest: aws.String(testDigest)},
		ImageManifest:          aws.String(manifest),
		ImageManifestMediaType: aws.String(mediaType),
	}}}
}

func TestNewInspectorRejectsNilClient(t *testing.T) {
	if _, err := NewInspector(nil); err == nil {
		t.Error("NewInspector(nil) succeeded")
	}
}

func TestInspectAsksForTheDigestInTheAccountsRegistry(t *testing.T) {
	fake := &fakeImages{out: found(MediaTypeOCIIndex, string(readFixture(t, "oci-index-attestations.json")))}
	insp, _ := NewInspector(fake)
	info, err := insp.Inspect(context.Background(), testRef(t))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	want := domain.ImageInfo{Kind: domain.ArtifactIndex, MediaType: MediaTypeOCIIndex, Platforms: []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}, Children: map[string]domain.Digest{
		"linux/amd64":    "sha256:6a7a9b6c1a1e9b6f8d4d0d3c9b2f6e5d4c3b2a1908f7e6d5c4b3a29180706050",
		"linux/arm64/v8": "sha256:7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4",
		"linux/arm/v7":   "sha256:8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5",
	}}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Inspect = %+v, want %+v", info, want)
	}
	in := fake.in
	if aws.ToString(in.RegistryId) != "123456789012" || aws.ToString(in.RepositoryName) != "team/app" {
		t.Errorf("asked registry %q repository %q", aws.ToString(in.RegistryId), aws.ToString(in.RepositoryName))
	}
	if len(in.ImageIds) != 1 || aws.ToString(in.ImageIds[0].ImageDigest) != testDigest || in.ImageIds[0].ImageTag != nil {
		t.Errorf("image IDs = %+v, want only the digest", in.ImageIds)
	}
	for _, mt := range []string{MediaTypeDockerManifest, MediaTypeDockerList, MediaTypeOCIManifest, MediaTypeOCIIndex} {
		found := false
		for _, a := range in.AcceptedMediaTypes {
			found = found || a == mt
		}
		if !found {
			t.Errorf("accepted media types %v lack %s", in.AcceptedMediaTypes, mt)
		}
	}
}

func TestInspectErrors(t *testing.T) {
	cases := []struct {
		name    string
		fake    *fakeImages
		wantIs  error
		wantErr string
	}{
		{"image not found", &fakeImages{out: &ecr.BatchGetImageOutput{Failures: []types.ImageFailure{{
			FailureCode: types.ImageFailureCodeImageNotFound, FailureReason: aws.String("Requested image not found"),
		}}}}, domain.ErrNotFound, "Requested image not found"},
		{"repository not found", &fakeImages{err: &types.RepositoryNotFoundException{Message: aws.String("The repository does not exist")}}, domain.ErrNotFound, "team/app@" + testDigest},
		{"other failure", &fakeImages{out: &ecr.BatchGetImageOutput{Failures: []types.ImageFailure{{
			FailureCode: types.ImageFailureCodeKmsError, FailureReason: aws.String("key disabled"),
		}}}}, nil, "KmsError: key disabled"},
		{"API error", &fakeImages{err: errors.New("throttled")}, nil, "throttled"},
		{"empty answer", &fakeImages{out: &ecr.BatchGetImageOutput{}}, nil, "neither"},
		{"garbage manifest", &fakeImages{out: found(MediaTypeOCIManifest, "<html>")}, domain.ErrInvalid, "team/app"},
		{"image without manifest", &fakeImages{out: &ecr.BatchGetImageOutput{Images: []types.Image{{}}}}, nil, "no manifest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			insp, _ := NewInspector(tc.fake)
			_, err := insp.Inspect(context.Background(), testRef(t))
			if err == nil {
				t.Fatal("Inspect succeeded, want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error = %v, want one wrapping %v", err, tc.wantIs)
			}
			if tc.wantIs == nil && (errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrInvalid)) {
				t.Errorf("error = %v wraps a sentinel it should not", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}
