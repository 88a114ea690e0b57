package testkit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update is the one -update flag of every test binary that imports the kit:
// `go test ./handlers/alert -update` rewrites that package's golden files.
var update = flag.Bool("update", false, "rewrite the golden files instead of comparing with them")

// Golden checks got against the golden file at path, byte for byte. Under
// -update it first writes got there (creating the folder), so a reviewer
// reads an intended change as the diff of the file.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
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
		t.Errorf("output differs from %s (run go test -update after an intended change and review the diff):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
