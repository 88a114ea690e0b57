package ecrstore

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ecrMaxManifestBytes is the largest manifest ECR stores: PutImage's
// imageManifest is 1 to 4,194,304 characters (Amazon ECR API Reference,
// "PutImage").
const ecrMaxManifestBytes = 4 << 20

// An image pushed with a 300-character tag (ECR's longest, domain.MaxTagLen)
// gets its summary referrer through its digest: the tag reaches neither the
// artifact's annotations nor its summary blob, and every annotation value is
// a scan label within ECR's resource tag value limit of 256 characters.
func TestReferrerOfALongTaggedImageLeavesTheTagOut(t *testing.T) {
	tag := "v" + strings.Repeat("1.2-_", 59) + "abcd"
	srv := referrerTestRegistry(t, nil)
	ref := referrerPushImage(t, srv, "team/app")
	// The registry knows the image as :v1 only; a lookup by the long tag
	// would fail, so success also shows that the subject is found by digest.
	ref.Tag = tag
	refs, err := NewReferrers(nil, ReferrersConfig{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	s := referrerTestSummary(ref, "scan-1", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	digest, err := refs.PutSummary(context.Background(), ref, s)
	if err != nil {
		t.Fatalf("PutSummary: %v", err)
	}
	artifact := referrerDigestRef(t, srv, "team/app", digest)
	desc, err := remote.Get(artifact)
	if err != nil {
		t.Fatalf("read the artifact: %v", err)
	}
	if len(desc.Manifest) > ecrMaxManifestBytes || strings.Contains(string(desc.Manifest), tag[:20]) {
		t.Errorf("manifest of %d bytes (limit %d) holds the tag:\n%s", len(desc.Manifest), ecrMaxManifestBytes, desc.Manifest)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range m.Annotations {
		if len(v) > maxTagValue {
			t.Errorf("annotation %s is %d characters, over %d", k, len(v), maxTagValue)
		}
	}
	layer, err := remote.Layer(artifact.Context().Digest(m.Layers[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var doc map[string]any
	if err := json.NewDecoder(rc).Decode(&doc); err != nil {
		t.Fatalf("summary blob: %v", err)
	}
	if b, _ := json.Marshal(doc); strings.Contains(string(b), tag[:20]) {
		t.Errorf("summary blob holds the tag: %s", b)
	}
}
