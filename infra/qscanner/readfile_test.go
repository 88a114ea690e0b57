//go:build unix

package qscanner

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ecrscanner/domain"
)

// outputFile is the path of the output file with the given suffix in dir.
func outputFile(t *testing.T, dir, suffix string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil || len(files) != 1 {
		t.Fatalf("%s in %s: %v %v", suffix, dir, files, err)
	}
	return files[0]
}

// parseWithin parses dir and fails the test if that takes longer than a few
// seconds: the regressions guarded here hang rather than fail.
func parseWithin(t *testing.T, dir string) (*domain.Report, error) {
	t.Helper()
	type result struct {
		rep *domain.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := ParseDir(dir)
		done <- result{rep, err}
	}()
	select {
	case r := <-done:
		return r.rep, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("parse still running after 10s")
		return nil, nil
	}
}

// replaceWith removes path and lets make put something else in its place.
func replaceWith(t *testing.T, path string, make func(path string) error) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := make(path); err != nil {
		t.Skipf("cannot set up: %v", err)
	}
}

func symlinkTo(target string) func(string) error {
	return func(path string) error { return os.Symlink(target, path) }
}

func TestParseReadsOnlyRegularFiles(t *testing.T) {
	tests := []struct {
		name   string
		suffix string
		make   func(t *testing.T, dir string) func(string) error
		reason string
	}{
		{"FIFO", scanResultSuffix, func(*testing.T, string) func(string) error {
			return func(path string) error { return syscall.Mkfifo(path, 0o600) }
		}, "a named pipe, not a regular file"},
		{"symlink to /dev/zero", sarifSuffix, func(*testing.T, string) func(string) error {
			return symlinkTo("/dev/zero")
		}, "a symlink, not a regular file"},
		{"symlink to a regular file", scanResultSuffix, func(t *testing.T, dir string) func(string) error {
			real := filepath.Join(dir, "elsewhere.json")
			if err := os.WriteFile(real, []byte(`{"SchemaVersion": 2}`), 0o600); err != nil {
				t.Fatal(err)
			}
			return symlinkTo(real)
		}, "a symlink, not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeOutput(t, nil, []map[string]any{})
			path := outputFile(t, dir, tc.suffix)
			replaceWith(t, path, tc.make(t, t.TempDir()))
			rep, err := parseWithin(t, dir)
			assertRefused(t, rep, err, filepath.Base(path), tc.reason)
		})
	}
}

// TestParseRefusesSymlinkToFIFO is the reported hang: a SARIF symlinked to a
// FIFO nobody writes to.
func TestParseRefusesSymlinkToFIFO(t *testing.T) {
	dir := writeOutput(t, nil, []map[string]any{})
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	path := outputFile(t, dir, sarifSuffix)
	replaceWith(t, path, symlinkTo(fifo))
	rep, err := parseWithin(t, dir)
	assertRefused(t, rep, err, filepath.Base(path), "symlink")
}

func TestParseRefusesDevice(t *testing.T) {
	for _, dev := range []string{"/dev/zero", "/dev/null"} {
		t.Run(dev, func(t *testing.T) {
			if _, err := os.Lstat(dev); err != nil {
				t.Skip(err)
			}
			f, err := openOutput(dev)
			if err == nil {
				f.Close()
				t.Fatalf("openOutput(%s) opened a device", dev)
			}
			if !strings.Contains(err.Error(), "a device, not a regular file") {
				t.Errorf("error %q does not say it is a device", err)
			}
		})
	}
}

func TestParseRefusesOversizedOutput(t *testing.T) {
	for _, suffix := range []string{scanResultSuffix, sarifSuffix} {
		t.Run(suffix, func(t *testing.T) {
			dir := writeOutput(t, nil, []map[string]any{})
			path := outputFile(t, dir, suffix)
			// Sparse: one byte over the cap costs no disk and is never read.
			if err := os.Truncate(path, maxOutputFile+1); err != nil {
				t.Fatal(err)
			}
			rep, err := parseWithin(t, dir)
			assertRefused(t, rep, err, filepath.Base(path), "over the limit of 128 MiB")
			if !errors.Is(err, errOutputTooLarge) {
				t.Errorf("error %v does not wrap errOutputTooLarge", err)
			}
		})
	}
}

func TestCapReaderFailsOnGrowthPastTheCap(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"under the cap", 9, false},
		{"exactly the cap", 10, false},
		{"one byte over the cap", 11, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := bytes.Repeat([]byte("x"), tc.size)
			got, err := io.ReadAll(newCapReader(bytes.NewReader(in), 10))
			if tc.wantErr {
				if !errors.Is(err, errOutputTooLarge) || !strings.Contains(err.Error(), "limit of 10 bytes") {
					t.Errorf("err = %v, want errOutputTooLarge naming the limit", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, in) {
				t.Errorf("read %d bytes, err %v; want %d bytes", len(got), err, len(in))
			}
		})
	}
}

func assertRefused(t *testing.T, rep *domain.Report, err error, file, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("parsed: %+v", domain.Summarize(rep))
	}
	var f *domain.Failure
	if !errors.As(err, &f) || f.Class != domain.FailureUnparseableOutput {
		t.Fatalf("error %v is not an unparseable-output failure", err)
	}
	if !strings.Contains(f.Reason, file) || !strings.Contains(f.Reason, reason) {
		t.Errorf("reason %q does not name %s and say %q", f.Reason, file, reason)
	}
}
