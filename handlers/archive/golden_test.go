package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"ecrscanner/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestArchiveDocumentGolden pins the archive document byte for byte: readers
// (Athena tables, scripts) depend on its shape. Run with -update after an
// intended change and review the diff.
func TestArchiveDocumentGolden(t *testing.T) {
	clean := &domain.Report{Digest: testDigest, Platform: "linux/arm64", QScannerVersion: "4.8.0"}
	tests := []struct {
		name   string
		report *domain.Report
		tags   []string
	}{
		{name: "completed", report: testReport(), tags: []string{"v1.2.3", "latest"}},
		{name: "clean-untagged", report: clean, tags: []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var refs []domain.ImageRef
			for _, tag := range tc.tags {
				refs = append(refs, mustRef(t, "team/app", tag))
			}
			archive := &fakeArchive{}
			h, _ := newTestHandler(t, reportsWith(tc.report), archive)
			if err := h.Handle(context.Background(), completedEvent(tc.report, refs...)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(archive.puts) != 1 {
				t.Fatalf("%d objects written, want 1", len(archive.puts))
			}
			got := archive.puts[0].body
			if !json.Valid(got) || !bytes.HasSuffix(got, []byte("}\n")) || bytes.Count(got, []byte("\n")) != 1 {
				t.Errorf("document is not one line of JSON:\n%s", got)
			}
			path := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("document differs from %s (run go test -update after an intended change):\n got %s\nwant %s", path, got, want)
			}
		})
	}
}
