package domain_test

import (
	"errors"
	"strings"
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

func TestChoosePlatformVariants(t *testing.T) {
	index := domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v6", "linux/arm/v7"}}
	armOnly := domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/arm64", "linux/arm/v7"}}
	cases := []struct {
		name    string
		info    domain.ImageInfo
		wanted  []string
		want    string
		wantErr []string
	}{
		{"default is linux/amd64", index, nil, "linux/amd64", nil},
		{"first wanted that is present", index, []string{"linux/s390x", "linux/arm64", "linux/amd64"}, "linux/arm64/v8", nil},
		{"exact variant", index, []string{"linux/arm/v7"}, "linux/arm/v7", nil},
		{"no variant takes the first of that arch", index, []string{"linux/arm"}, "linux/arm/v6", nil},
		{"arm64/v8 matches plain arm64", armOnly, []string{"linux/arm64/v8"}, "linux/arm64", nil},
		{"case and spaces ignored", index, []string{" Linux/AMD64 "}, "linux/amd64", nil},
		{"single image needs no platform", domain.ImageInfo{Kind: domain.ArtifactImage}, []string{"linux/arm64"}, "", nil},
		{"default missing", armOnly, nil, "", []string{"linux/amd64", "linux/arm64, linux/arm/v7"}},
		{"wrong variant", armOnly, []string{"linux/arm/v6"}, "", []string{"linux/arm/v6"}},
		{"empty index", domain.ImageInfo{Kind: domain.ArtifactIndex}, nil, "", []string{"has none"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.info.ChoosePlatform(tc.wanted)
			if tc.wantErr != nil {
				if !errors.Is(err, domain.ErrNoPlatform) {
					t.Fatalf("ChoosePlatform = %q, %v; want ErrNoPlatform", got, err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error = %v, want it to mention %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ChoosePlatform = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
