// Package modroot finds this project's checkout — the folder holding go.mod —
// for the commands and tests that build its programs or read its testdata.
package modroot

import (
	"fmt"
	"os"
	"path/filepath"
)

// Find returns the nearest folder at or above dir that holds a go.mod.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s: run from the project checkout", abs)
		}
	}
}
