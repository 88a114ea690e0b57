package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

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
			rep := testkit.Report()
			if err := env.handle(t, testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1.2.3"), testkit.MustRef(t, "team/app", "latest")), rep); err != nil {
				t.Fatal(err)
			}
			return env.hub.imports[0]
		}},
		{"rescan-resolves", func(t *testing.T, env *testEnv) []securityhubstore.Finding {
			first := testkit.Report()
			if err := env.handle(t, testkit.CompletedEventOf(first, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), first); err != nil {
				t.Fatal(err)
			}
			// A rescan of the same image that finds nothing any more.
			clean := &domain.Report{Digest: testkit.Digest, Platform: "linux/amd64", QScannerVersion: "4.9.0", ScanTypes: []string{"os", "sca", "secret"}}
			if err := env.handle(t, testkit.CompletedEventOf(clean, "scan2", testkit.ScannedAt.Add(48*time.Hour), testkit.MustRef(t, "team/app", "v2")), clean); err != nil {
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
			testkit.Golden(t, filepath.Join("testdata", tt.name+".golden.json"), buf.Bytes())
		})
	}
}
