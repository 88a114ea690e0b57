// Package qscannertest gives tests in any package the QScanner stand-in
// (testdata/qscanner-standin, a test tool that is not Qualys QScanner) and the
// QScanner output fixtures (testdata/qscanner). Import it from _test files
// only.
package qscannertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// BuildStandIn compiles the stand-in once per test binary and returns the
// path of the executable. The binary lives in a temporary directory that
// outlives the calling test (it is shared by every test in the binary).
func BuildStandIn(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "qscanner-standin-")
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "qscanner")
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("find the go tool: %w", err)
			return
		}
		cmd := exec.Command(goTool, "build", "-o", bin, "./testdata/qscanner-standin")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build the qscanner stand-in: %w\n%s", err, out)
			return
		}
		builtPath = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

// FixtureDir returns the absolute path of testdata/qscanner/<name>. It panics
// if the module root cannot be found, which only a broken checkout causes.
func FixtureDir(name string) string {
	root, err := moduleRoot()
	if err != nil {
		panic(err)
	}
	return filepath.Join(root, "testdata", "qscanner", name)
}

// moduleRoot walks up from the working directory (a test runs in its
// package's directory) to go.mod, then falls back to this file's location.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				if _, err := os.Stat(filepath.Join(d, "testdata", "qscanner-standin")); err == nil {
					return d, nil
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("module root with testdata/qscanner-standin not found above %v", starts)
}
