package main

import (
	"encoding/json"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

// FuzzFindings builds the ASFF findings of any report (as read back from
// S3) and any tag, and checks that Security Hub would take them: every
// finding passes securityhubstore.Validate, IDs are unique and under the
// repository's prefix (so a rescan can resolve the ones that went away), and
// building twice gives the same IDs (every delivery of an event writes the
// same findings). No ProductFields key is under aws/, which Security Hub
// reserves for itself.
func FuzzFindings(f *testing.F) {
	for _, rep := range []*domain.Report{testkit.Report(), testkit.ThresholdReport(), messyReport(), {}} {
		b, err := json.Marshal(rep)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "v1", "linux/arm64/v8")
	}
	f.Add([]byte(`{"vulnerabilities":[{"qid":"","title":"\u202e\u0000"}],"secrets":[{"file":"\n"}]}`), strings.Repeat("t", 300), "")

	f.Fuzz(func(t *testing.T, repJSON []byte, tag, platform string) {
		var rep domain.Report
		if err := json.Unmarshal(repJSON, &rep); err != nil {
			return
		}
		ref, err := domain.NewImageRef(testkit.Account, testkit.Region, "team/app", string(testkit.Digest), tag)
		if err != nil {
			return // the event would not have validated
		}
		im := testImage(t)
		im.tags = nil
		if ref.Tag != "" {
			im.tags = []string{ref.Tag}
		}
		im.platform = platform
		rep.Platform = platform
		got := findingsOf(im, &rep)
		seen := make(map[string]bool, len(got))
		for _, fd := range got {
			if err := securityhubstore.Validate(fd); err != nil {
				t.Fatalf("finding refused: %v", err)
			}
			if seen[fd.ID] {
				t.Fatalf("two findings with ID %q", fd.ID)
			}
			seen[fd.ID] = true
			for k := range fd.ProductFields {
				if securityhubstore.IsReservedField(k) {
					t.Fatalf("finding %q has the reserved ProductFields key %q", fd.ID, k)
				}
			}
			if !strings.HasPrefix(fd.ID, im.prefix()) {
				t.Fatalf("finding %q is not under the repository prefix %q", fd.ID, im.prefix())
			}
		}
		for _, fd := range findingsOf(im, &rep) {
			if !seen[fd.ID] {
				t.Fatalf("second build has a new ID %q", fd.ID)
			}
		}
	})
}
