package ecrstore

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ecrscanner/domain"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures maps each manifest in testdata to what Classify must say of it.
// The moto test pushes the same files.
var fixtures = []struct {
	file      string
	mediaType string // as the registry reports it
	want      domain.ImageInfo
}{
	{"docker-v2.json", MediaTypeDockerManifest, domain.ImageInfo{Kind: domain.ArtifactImage, MediaType: MediaTypeDockerManifest}},
	{"oci-image.json", MediaTypeOCIManifest, domain.ImageInfo{Kind: domain.ArtifactImage, MediaType: MediaTypeOCIManifest}},
	{"oci-index-attestations.json", MediaTypeOCIIndex, domain.ImageInfo{Kind: domain.ArtifactIndex, MediaType: MediaTypeOCIIndex, Platforms: []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}, Children: map[string]domain.Digest{
		"linux/amd64":    "sha256:6a7a9b6c1a1e9b6f8d4d0d3c9b2f6e5d4c3b2a1908f7e6d5c4b3a29180706050",
		"linux/arm64/v8": "sha256:7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4",
		"linux/arm/v7":   "sha256:8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5",
	}}},
	{"docker-manifest-list.json", MediaTypeDockerList, domain.ImageInfo{Kind: domain.ArtifactIndex, MediaType: MediaTypeDockerList, Platforms: []string{"linux/amd64", "linux/arm64", "windows/amd64"}, Children: map[string]domain.Digest{
		"linux/amd64":   "sha256:1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607",
		"linux/arm64":   "sha256:2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718",
		"windows/amd64": "sha256:3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829",
	}}},
	{"cosign-signature.json", MediaTypeOCIManifest, domain.ImageInfo{Kind: domain.ArtifactSignature, MediaType: MediaTypeOCIManifest}},
	{"notation-signature.json", MediaTypeOCIManifest, domain.ImageInfo{Kind: domain.ArtifactSignature, MediaType: MediaTypeOCIManifest}},
	{"spdx-sbom.json", MediaTypeOCIManifest, domain.ImageInfo{Kind: domain.ArtifactSBOM, MediaType: MediaTypeOCIManifest}},
	{"intoto-attestation.json", MediaTypeOCIManifest, domain.ImageInfo{Kind: domain.ArtifactAttestation, MediaType: MediaTypeOCIManifest}},
	{"referrer-subject.json", MediaTypeOCIManifest, domain.ImageInfo{Kind: domain.ArtifactReferrer, MediaType: MediaTypeOCIManifest}},
	{"helm-chart.json", MediaTypeOCIManifest, domain.ImageInfo{Kind: domain.ArtifactOther, MediaType: MediaTypeOCIManifest}},
}

func TestClassifyFixtures(t *testing.T) {
	for _, tc := range fixtures {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			raw := readFixture(t, tc.file)
			got, err := Classify(tc.mediaType, raw)
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Classify = %+v, want %+v", got, tc.want)
			}
			// The manifest's own mediaType field gives the same answer when
			// the registry does not say.
			again, err := Classify("", raw)
			if err != nil || !reflect.DeepEqual(again, tc.want) {
				t.Errorf("Classify without media type = %+v, %v; want %+v", again, err, tc.want)
			}
		})
	}
}

func TestClassifyGarbage(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
	}{
		{"html error page", readFixture(t, "garbage.txt")},
		{"empty", nil},
		{"JSON array", []byte(`[1,2,3]`)},
		{"JSON string", []byte(`"manifest"`)},
		{"empty object", []byte(`{}`)},
		{"wrong field types", []byte(`{"schemaVersion":"two","layers":{}}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Classify(MediaTypeOCIManifest, tc.raw)
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("Classify = %+v, %v; want an error wrapping domain.ErrInvalid", info, err)
			}
		})
	}
}

func TestClassifyVariants(t *testing.T) {
	const emptyConfig = `"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}`
	const tarLayer = `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0","size":1}`
	const imageConfig = `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":1}`
	const subject = `"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:6a7a9b6c1a1e9b6f8d4d0d3c9b2f6e5d4c3b2a1908f7e6d5c4b3a29180706050","size":1}`
	cases := []struct {
		name      string
		mediaType string
		manifest  string
		want      domain.ArtifactKind
		platforms []string
	}{
		{"cosign signature by config media type", MediaTypeOCIManifest,
			`{"schemaVersion":2,"config":{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json"},"layers":[]}`, domain.ArtifactSignature, nil},
		{"cosign signature by artifact type, with subject", MediaTypeOCIManifest,
			`{"schemaVersion":2,"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json",` + emptyConfig + `,"layers":[],` + subject + `}`, domain.ArtifactSignature, nil},
		{"notary signature by config media type", MediaTypeOCIManifest,
			`{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.notary.signature"},"layers":[{"mediaType":"application/cose"}]}`, domain.ArtifactSignature, nil},
		{"CycloneDX by artifact type", MediaTypeOCIManifest,
			`{"schemaVersion":2,"artifactType":"application/vnd.cyclonedx+json",` + emptyConfig + `,"layers":[{"mediaType":"application/vnd.cyclonedx+json"}],` + subject + `}`, domain.ArtifactSBOM, nil},
		{"SPDX by layer", MediaTypeOCIManifest,
			`{"schemaVersion":2,` + emptyConfig + `,"layers":[{"mediaType":"application/spdx+json"}]}`, domain.ArtifactSBOM, nil},
		{"DSSE attestation (cosign attest)", MediaTypeOCIManifest,
			`{"schemaVersion":2,` + imageConfig + `,"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json"}]}`, domain.ArtifactAttestation, nil},
		{"attestation marked by annotation", MediaTypeOCIManifest,
			`{"schemaVersion":2,` + imageConfig + `,"layers":[],"annotations":{"vnd.docker.reference.type":"attestation-manifest"}}`, domain.ArtifactAttestation, nil},
		{"image with a subject is a referrer", MediaTypeOCIManifest,
			`{"schemaVersion":2,` + imageConfig + `,"layers":[` + tarLayer + `],` + subject + `}`, domain.ArtifactReferrer, nil},
		{"index with a subject is a referrer", MediaTypeOCIIndex,
			`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"os":"linux","architecture":"amd64"}}],` + subject + `}`, domain.ArtifactReferrer, nil},
		{"image config with no layers is an image", MediaTypeOCIManifest,
			`{"schemaVersion":2,` + imageConfig + `,"layers":[]}`, domain.ArtifactImage, nil},
		{"image config with a non-layer blob", MediaTypeOCIManifest,
			`{"schemaVersion":2,` + imageConfig + `,"layers":[` + tarLayer + `,{"mediaType":"application/octet-stream"}]}`, domain.ArtifactOther, nil},
		{"image config with an unknown artifact type", MediaTypeOCIManifest,
			`{"schemaVersion":2,"artifactType":"application/vnd.example.thing",` + imageConfig + `,"layers":[` + tarLayer + `]}`, domain.ArtifactOther, nil},
		{"empty-config artifact", MediaTypeOCIManifest,
			`{"schemaVersion":2,"artifactType":"application/vnd.example.thing",` + emptyConfig + `,"layers":[]}`, domain.ArtifactOther, nil},
		{"manifest without mediaType anywhere", "",
			`{"schemaVersion":2,` + imageConfig + `,"layers":[` + tarLayer + `]}`, domain.ArtifactImage, nil},
		{"index without mediaType anywhere", "",
			`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"os":"linux","architecture":"s390x"}}]}`, domain.ArtifactIndex, []string{"linux/s390x"}},
		{"index of attestations only", MediaTypeOCIIndex,
			`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"os":"unknown","architecture":"unknown"}}]}`, domain.ArtifactOther, nil},
		{"index entries without platform", MediaTypeOCIIndex,
			`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json"}]}`, domain.ArtifactOther, nil},
		{"index with nested index and duplicate", MediaTypeOCIIndex,
			`{"schemaVersion":2,"manifests":[
				{"mediaType":"application/vnd.oci.image.index.v1+json","platform":{"os":"linux","architecture":"ppc64le"}},
				{"mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"os":"linux","architecture":"amd64"}},
				{"mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"os":"linux","architecture":"amd64"}}]}`, domain.ArtifactIndex, []string{"linux/amd64"}},
		{"index of signatures by entry artifact type", MediaTypeOCIIndex,
			`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.notary.signature"}]}`, domain.ArtifactSignature, nil},
		{"docker schema 1", "application/vnd.docker.distribution.manifest.v1+prettyjws",
			`{"schemaVersion":1,"name":"app","tag":"1","fsLayers":[{"blobSum":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}]}`, domain.ArtifactOther, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Classify(tc.mediaType, []byte(tc.manifest))
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if got.Kind != tc.want || !reflect.DeepEqual(got.Platforms, tc.platforms) {
				t.Errorf("Classify = %s %v, want %s %v", got.Kind, got.Platforms, tc.want, tc.platforms)
			}
		})
	}
}
