// Package qscannertest gives tests in any package the QScanner stand-in
// (testdata/qscanner-standin, a test tool that is not Qualys QScanner) and the
// QScanner output fixtures (testdata/qscanner). Import it from _test files
// only.
package qscannertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"ecrscanner/infra/ops/modroot"
)

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// BuildStandIn returns the path of the stand-in executable, building it at
// most once per test binary. Builds are cached under the system temporary
// directory by a hash of the stand-in's source, so repeated test runs reuse
// one binary instead of leaving a new one behind each time.
func BuildStandIn(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { builtPath, buildErr = buildStandIn() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

// Build is BuildStandIn for a program that is not a test (the bench
// driver, infra/ops/bench).
func Build() (string, error) {
	buildOnce.Do(func() { builtPath, buildErr = buildStandIn() })
	return builtPath, buildErr
}

func buildStandIn() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "testdata", "qscanner-standin")
	key, err := sourceHash(src)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(os.TempDir(), "ecrscanner-qscanner-standin", key, "qscanner")
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Build beside the target and rename: test binaries of several packages
	// may build at once, and a rename never exposes a half-written file.
	tmp, err := os.MkdirTemp(filepath.Dir(bin), "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("find the go tool: %w", err)
	}
	out := filepath.Join(tmp, "qscanner")
	cmd := exec.Command(goTool, "build", "-o", out, "./testdata/qscanner-standin")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the qscanner stand-in: %w\n%s", err, msg)
	}
	if err := os.Rename(out, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// sourceHash identifies the stand-in's source, so an edited stand-in is
// rebuilt.
func sourceHash(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
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
		if root, err := modroot.Find(dir); err == nil {
			if _, err := os.Stat(filepath.Join(root, "testdata", "qscanner-standin")); err == nil {
				return root, nil
			}
		}
	}
	return "", fmt.Errorf("module root with testdata/qscanner-standin not found above %v", starts)
}
