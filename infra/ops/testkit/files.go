package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// Files reads every file matching the glob pattern, in name order, failing
// tb on a bad pattern or an unreadable file. Fuzz targets seed their corpus
// with it from the project's fixtures.
func Files(tb testing.TB, pattern string) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([][]byte, 0, len(names))
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
