package ecrstore

import (
	"encoding/json"
	"fmt"
	"strings"

	"ecrscanner/domain"
)

// Manifest media types.
const (
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
)

// acceptedMediaTypes are the manifest types asked of ECR, so that it returns
// every manifest as pushed instead of converting or refusing it.
var acceptedMediaTypes = []string{MediaTypeDockerManifest, MediaTypeDockerList, MediaTypeOCIManifest, MediaTypeOCIIndex}

const (
	mtDockerImageConfig = "application/vnd.docker.container.image.v1+json"
	mtOCIImageConfig    = "application/vnd.oci.image.config.v1+json"

	mtCosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	mtCosignSignature     = "application/vnd.dev.cosign.artifact.sig.v1+json"
	mtNotarySignature     = "application/vnd.cncf.notary.signature"

	// buildkit's marker on the index entry of an attestation manifest.
	annotationReferenceType = "vnd.docker.reference.type"
	attestationManifest     = "attestation-manifest"
)

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
	Platform     *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	} `json:"platform"`
}

// manifest holds the fields of an image manifest or index that classification
// reads; both shapes decode into it.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptor       `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// Classify sorts a manifest by what it is, from its media type (as the
// registry reports it; empty to read it from the manifest) and its JSON.
//
// Signatures (cosign, notation), SBOMs (SPDX, CycloneDX) and attestations
// (in-toto, DSSE, buildkit) are recognised first, by artifact type, config
// media type or layer media types, whether or not they carry a subject, so a
// notation signature (which always has one) still says "signature". Any other
// manifest with a subject is a referrer. A manifest is an image only when its
// config is an image config and every layer is a filesystem layer; an index
// lists the os/arch[/variant] of its runnable entries, leaving out buildkit's
// unknown/unknown attestation entries, and an index with no runnable entry is
// "other". Input that is not a manifest is an error wrapping domain.ErrInvalid.
func Classify(mediaType string, raw []byte) (domain.ImageInfo, error) {
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return domain.ImageInfo{}, fmt.Errorf("%w manifest: %w", domain.ErrInvalid, err)
	}
	if m.SchemaVersion == 0 && m.MediaType == "" && m.Config == nil && m.Manifests == nil && m.Layers == nil {
		return domain.ImageInfo{}, fmt.Errorf("%w manifest: no schemaVersion, mediaType, config, layers or manifests", domain.ErrInvalid)
	}
	mt := mediaType
	if mt == "" {
		mt = m.MediaType
	}
	if mt == "" && m.SchemaVersion == 2 {
		// OCI lets the mediaType field be omitted; the shape tells.
		if m.Manifests != nil {
			mt = MediaTypeOCIIndex
		} else {
			mt = MediaTypeOCIManifest
		}
	}
	info := domain.ImageInfo{MediaType: mt}

	if k, ok := artifactKind(&m); ok {
		info.Kind = k
		return info, nil
	}
	if m.Subject != nil {
		info.Kind = domain.ArtifactReferrer
		return info, nil
	}
	switch mt {
	case MediaTypeOCIIndex, MediaTypeDockerList:
		info.Platforms, info.Children = platforms(m.Manifests)
		info.Kind = domain.ArtifactIndex
		if len(info.Platforms) == 0 {
			info.Kind = domain.ArtifactOther
		}
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
		info.Kind = domain.ArtifactOther
		if m.ArtifactType == "" && isImage(&m) {
			info.Kind = domain.ArtifactImage
		}
	default:
		info.Kind = domain.ArtifactOther
	}
	return info, nil
}

// artifactKind recognises signatures, SBOMs and attestations.
func artifactKind(m *manifest) (domain.ArtifactKind, bool) {
	mts := []string{m.ArtifactType}
	if m.Config != nil {
		mts = append(mts, m.Config.MediaType)
	}
	for _, l := range m.Layers {
		mts = append(mts, l.MediaType)
	}
	// An index-shaped artifact names its kind in artifactType, on itself or
	// on its entries.
	for _, d := range m.Manifests {
		mts = append(mts, d.ArtifactType)
	}
	for _, k := range []domain.ArtifactKind{domain.ArtifactSignature, domain.ArtifactSBOM, domain.ArtifactAttestation} {
		for _, t := range mts {
			if t != "" && kindOfType(t) == k {
				return k, true
			}
		}
	}
	if m.Annotations[annotationReferenceType] == attestationManifest {
		return domain.ArtifactAttestation, true
	}
	return "", false
}

// kindOfType maps an artifact, config or layer media type to the kind of
// artifact it marks, or "" when it marks none.
func kindOfType(t string) domain.ArtifactKind {
	t = strings.ToLower(t)
	switch {
	case t == mtCosignSimpleSigning, t == mtCosignSignature, strings.HasPrefix(t, mtNotarySignature):
		return domain.ArtifactSignature
	case strings.Contains(t, "spdx"), strings.Contains(t, "cyclonedx"):
		return domain.ArtifactSBOM
	case strings.HasPrefix(t, "application/vnd.in-toto"),
		strings.HasPrefix(t, "application/vnd.dsse.envelope"),
		t == "application/vnd.dev.cosign.artifact.att.v1+json":
		return domain.ArtifactAttestation
	}
	return ""
}

func isImage(m *manifest) bool {
	if m.Config == nil || (m.Config.MediaType != mtOCIImageConfig && m.Config.MediaType != mtDockerImageConfig) {
		return false
	}
	for _, l := range m.Layers {
		if !isFilesystemLayer(l.MediaType) {
			return false
		}
	}
	return true
}

// isFilesystemLayer covers OCI layers (tar, +gzip, +zstd, nondistributable)
// and Docker's rootfs diffs (including foreign layers).
func isFilesystemLayer(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.oci.image.layer.") ||
		strings.HasPrefix(mt, "application/vnd.docker.image.rootfs.")
}

// platforms lists os/arch[/variant] of an index's runnable entries, in index
// order, without duplicates.
func platforms(entries []descriptor) ([]string, map[string]domain.Digest) {
	var out []string
	children := map[string]domain.Digest{}
	for _, d := range entries {
		if d.MediaType != "" && d.MediaType != MediaTypeOCIManifest && d.MediaType != MediaTypeDockerManifest {
			continue // a nested index or something that is not an image
		}
		if d.Annotations[annotationReferenceType] == attestationManifest || d.ArtifactType != "" {
			continue
		}
		p := d.Platform
		if p == nil || p.OS == "" || p.Architecture == "" || p.OS == "unknown" || p.Architecture == "unknown" {
			continue
		}
		s := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			s += "/" + p.Variant
		}
		if _, seen := children[s]; !seen {
			out = append(out, s)
			children[s] = "" // kept even when the digest is unreadable, so it stays listed once
			if dg, err := domain.ParseDigest(d.Digest); err == nil {
				children[s] = dg
			}
		}
	}
	for p, dg := range children {
		if dg == "" {
			delete(children, p)
		}
	}
	if len(children) == 0 {
		children = nil
	}
	return out, children
}
