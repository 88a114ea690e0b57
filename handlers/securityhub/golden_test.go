package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/securityhubstore"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestASFFGolden pins the findings sent to Security Hub byte for byte, as
// ASFF JSON: insights, automation rules and integrations downstream filter
// on these fields. Run with -update after an intended change and review the
// diff.
func TestASFFGolden(t *testing.T) {
	tests := []struct {
		name string
		// run handles the events and returns the findings of the Import call
		// the golden file pins.
		run func(t *testing.T, env *testEnv) []securityhubstore.Finding
	}{
		{"completed", func(t *testing.T, env *testEnv) []securityhubstore.Finding {
			rep := testReport()
			if err := env.handle(t, scanEvent(rep, testScanID, testScannedAt, mustRef(t, "team/app", "v1.2.3"), mustRef(t, "team/app", "latest")), rep); err != nil {
				t.Fatal(err)
			}
			return env.hub.imports[0]
		}},
		{"rescan-resolves", func(t *testing.T, env *testEnv) []securityhubstore.Finding {
			first := testReport()
			if err := env.handle(t, scanEvent(first, testScanID, testScannedAt, mustRef(t, "team/app", "v1")), first); err != nil {
				t.Fatal(err)
			}
			clean := &domain.Report{Digest: testDigest2, Platform: "linux/arm64", QScannerVersion: "4.9.0", ScanTypes: []string{"os", "sca", "secret"}}
			if err := env.handle(t, scanEvent(clean, "scan2", testScannedAt.Add(48*time.Hour), mustRefOf(t, testDigest2, "team/app", "v2")), clean); err != nil {
				t.Fatal(err)
			}
			// The clean scan imports nothing new; its one import archives
			// the three findings of the first scan.
			if n := len(env.hub.imports); n != 2 {
				t.Fatalf("%d imports, want 2", n)
			}
			return env.hub.imports[1]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Unescaped HTML characters, as the SDK sends them.
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(tt.run(t, newTestEnv(t))); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("findings differ from %s (run go test -update after an intended change):\n got %s\nwant %s", path, got, want)
			}
		})
	}
}
