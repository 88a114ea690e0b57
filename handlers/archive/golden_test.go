package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

// TestArchiveDocumentGolden pins the archive document byte for byte: readers
// (Athena tables, scripts) depend on its shape. Run with -update after an
// intended change and review the diff.
func TestArchiveDocumentGolden(t *testing.T) {
	clean := &domain.Report{Digest: testkit.Digest, Platform: "linux/arm64", QScannerVersion: "4.8.0"}
	tests := []struct {
		name   string
		report *domain.Report
		tags   []string
	}{
		{name: "completed", report: testkit.Report(), tags: []string{"v1.2.3", "latest"}},
		{name: "clean-untagged", report: clean, tags: []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var refs []domain.ImageRef
			for _, tag := range tc.tags {
				refs = append(refs, testkit.MustRef(t, "team/app", tag))
			}
			archive := &fakeArchive{}
			h, _ := newTestHandler(t, testkit.SampleReports(tc.report), archive)
			if err := h.Handle(context.Background(), testkit.CompletedEvent(tc.report, refs...)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(archive.puts) != 1 {
				t.Fatalf("%d objects written, want 1", len(archive.puts))
			}
			got := archive.puts[0].body
			if !json.Valid(got) || !bytes.HasSuffix(got, []byte("}\n")) || bytes.Count(got, []byte("\n")) != 1 {
				t.Errorf("document is not one line of JSON:\n%s", got)
			}
			testkit.Golden(t, filepath.Join("testdata", tc.name+".golden.json"), got)
		})
	}
}
