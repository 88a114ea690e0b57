package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"ecrscanner/domain"
)

// ecrTagValueRE is a resource tag value ECR takes: at most 256 characters
// (Amazon ECR API Reference, "Tag" and "TagResource"), of the letters,
// digits, spaces and _ . : / = + - @ that AWS tagging allows across services
// and that ScanSummary.Labels keeps to.
var ecrTagValueRE = regexp.MustCompile(`^[A-Za-z0-9 _.:/=+\-@]{0,256}$`)

// An image pushed with a 300-character tag (ECR's longest, domain.MaxTagLen)
// is recorded within ECR's limits: the repository's labels are scan facts
// only, each a valid tag value of at most 256 characters with no trace of the
// image tag, and the summary is attached to the image by digest.
func TestLongestTagStaysOutOfRepositoryTagsAndReferrer(t *testing.T) {
	tag := "v" + strings.Repeat("1.2-_", 59) + "abcd"
	tests := []struct {
		name string
		typ  domain.EventType
	}{
		{"scan completed", domain.EventScanCompleted},
		{"image referenced", domain.EventImageReferenced},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, tagger, attacher := newTestHandler(t)
			ev := scanEvent(t, tc.typ, digestX, t0, "team/app:"+tag)
			if err := h.Handle(context.Background(), ev); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			s, ok := tagger.summaries["team/app"]
			if !ok {
				t.Fatal("repository not tagged")
			}
			for k, v := range s.Labels() {
				if !ecrTagValueRE.MatchString(v) || strings.Contains(v, tag[:20]) {
					t.Errorf("label %s = %q: not a valid ECR tag value, or it holds the image tag", k, v)
				}
			}
			if len(attacher.attached) != 1 || attacher.attached[0].Tag != "" || attacher.attached[0].Digest != digestX {
				t.Errorf("attached to %+v, want team/app@%s by digest alone", attacher.attached, digestX)
			}
		})
	}
}
