package domain_test

import (
	"errors"
	"testing"

	"ecrscanner/domain"
)

func TestArtifactKindScannable(t *testing.T) {
	tests := []struct {
		kind domain.ArtifactKind
		want bool
	}{
		{domain.ArtifactImage, true},
		{domain.ArtifactIndex, true},
		{domain.ArtifactSignature, false},
		{domain.ArtifactSBOM, false},
		{domain.ArtifactAttestation, false},
		{domain.ArtifactReferrer, false},
		{domain.ArtifactOther, false},
		{domain.ArtifactKind(""), false},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			if got := tc.kind.Scannable(); got != tc.want {
				t.Errorf("Scannable() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestChoosePlatform(t *testing.T) {
	index := domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/arm64", "linux/amd64"}}
	tests := []struct {
		name    string
		info    domain.ImageInfo
		wanted  []string
		want    string
		wantErr error
	}{
		{"single image needs no platform", domain.ImageInfo{Kind: domain.ArtifactImage}, []string{"linux/arm64"}, "", nil},
		{"index defaults to linux/amd64", index, nil, "linux/amd64", nil},
		{"first wanted that the index holds", index, []string{"linux/s390x", "linux/arm64", "linux/amd64"}, "linux/arm64", nil},
		{"index without a wanted platform", index, []string{"windows/amd64"}, "", domain.ErrNoPlatform},
		{"arm-only index and the default", domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/arm64"}}, nil, "", domain.ErrNoPlatform},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.info.ChoosePlatform(tc.wanted)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("ChoosePlatform(%v) = %q, %v; want %q, %v", tc.wanted, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
