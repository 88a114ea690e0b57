package buildcache

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// module writes a module with one program, ./cmd/hello, that prints greeting.
func module(t *testing.T, greeting string) string {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "go.mod"), "module example.com/hello\n\ngo 1.22\n")
	setGreeting(t, root, greeting)
	return root
}

func setGreeting(t *testing.T, root, greeting string) {
	t.Helper()
	write(t, filepath.Join(root, "cmd", "hello", "main.go"), "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\""+greeting+"\") }\n")
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// countingGo is a go command that counts its builds in a file.
func countingGo(t *testing.T) (goCmd string, builds func() int) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the counting go command is a shell script")
	}
	real, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "builds")
	goCmd = filepath.Join(dir, "go")
	write(t, goCmd, "#!/bin/sh\n[ \"$1\" = build ] && echo build >> '"+log+"'\nexec '"+real+"' \"$@\"\n")
	if err := os.Chmod(goCmd, 0o755); err != nil {
		t.Fatal(err)
	}
	return goCmd, func() int {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "build\n")
	}
}

// isolate gives the test a cache of its own.
func isolate(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
}

func run(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return strings.TrimSpace(string(out))
}

func TestBuildCachedBuildsOncePerSource(t *testing.T) {
	isolate(t)
	goCmd, builds := countingGo(t)
	root := module(t, "hello")
	spec := Spec{Root: root, Go: goCmd, Flags: []string{"-trimpath"}}
	ctx := context.Background()

	first, second := t.TempDir(), t.TempDir()
	for _, dir := range []string{first, second} {
		if err := BuildCached(ctx, spec, dir, "./cmd/hello"); err != nil {
			t.Fatal(err)
		}
		if got := run(t, filepath.Join(dir, "hello")); got != "hello" {
			t.Errorf("the binary in %s says %q", dir, got)
		}
	}
	if n := builds(); n != 1 {
		t.Errorf("%d builds for two requests of the same source, want 1", n)
	}

	// A test file or a stray file in build/ is not source.
	write(t, filepath.Join(root, "cmd", "hello", "main_test.go"), "package main\n")
	write(t, filepath.Join(root, "build", "hello.zip"), "zip")
	if err := BuildCached(ctx, spec, t.TempDir(), "./cmd/hello"); err != nil {
		t.Fatal(err)
	}
	if n := builds(); n != 1 {
		t.Errorf("%d builds after a test file changed, want still 1", n)
	}

	setGreeting(t, root, "changed")
	third := t.TempDir()
	if err := BuildCached(ctx, spec, third, "./cmd/hello"); err != nil {
		t.Fatal(err)
	}
	if got := run(t, filepath.Join(third, "hello")); got != "changed" {
		t.Errorf("after an edit the binary says %q, want the new source's greeting", got)
	}
	if got := run(t, filepath.Join(first, "hello")); got != "hello" {
		t.Errorf("an earlier install changed under its user: it says %q", got)
	}

	spec.Flags = nil
	if err := BuildCached(ctx, spec, t.TempDir(), "./cmd/hello"); err != nil {
		t.Fatal(err)
	}
	if n := builds(); n != 3 {
		t.Errorf("%d builds after an edit and a change of flags, want 3", n)
	}
}

func TestBuildCachedMatchesBuild(t *testing.T) {
	isolate(t)
	root := module(t, "same")
	spec := Spec{Root: root, GOOS: "linux", GOARCH: "arm64", Flags: []string{"-trimpath", "-ldflags=-s -w"}}
	ctx := context.Background()
	fresh, cached := t.TempDir(), t.TempDir()
	if err := Build(ctx, spec, fresh, "./cmd/hello"); err != nil {
		t.Fatal(err)
	}
	if err := BuildCached(ctx, spec, cached, "./cmd/hello"); err != nil {
		t.Fatal(err)
	}
	if a, b := digest(t, filepath.Join(fresh, "hello")), digest(t, filepath.Join(cached, "hello")); a != b {
		t.Error("the cached binary differs from a fresh build with the same spec")
	}
}

func digest(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestBuildCachedConcurrentCallersShareOneBuild(t *testing.T) {
	isolate(t)
	goCmd, builds := countingGo(t)
	spec := Spec{Root: module(t, "together"), Go: goCmd}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	dirs := make([]string, len(errs))
	for i := range errs {
		dirs[i] = t.TempDir()
		wg.Go(func() { errs[i] = BuildCached(context.Background(), spec, dirs[i], "./cmd/hello") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if got := run(t, filepath.Join(dirs[i], "hello")); got != "together" {
			t.Errorf("caller %d got a binary that says %q", i, got)
		}
	}
	if n := builds(); n != 1 {
		t.Errorf("%d builds for four concurrent callers, want 1", n)
	}
}

func TestBuildReportsTheCompilerOutput(t *testing.T) {
	isolate(t)
	root := module(t, "x")
	write(t, filepath.Join(root, "cmd", "broken", "main.go"), "package main\n\nfunc main() { undefinedThing() }\n")
	spec := Spec{Root: root}
	for name, build := range map[string]func(context.Context, Spec, string, ...string) error{"Build": Build, "BuildCached": BuildCached} {
		err := build(context.Background(), spec, t.TempDir(), "./cmd/broken")
		if err == nil || !strings.Contains(err.Error(), "./cmd/broken") || !strings.Contains(err.Error(), "undefinedThing") {
			t.Errorf("%s: error %v, want the package and the compiler's message", name, err)
		}
	}
}

func TestPruneRemovesOnlyStaleBuilds(t *testing.T) {
	base := t.TempDir()
	old := time.Now().Add(-2 * staleAfter)
	for _, key := range []string{"stale", "recent", "current"} {
		write(t, filepath.Join(base, key, "handlers", "scan", "scan"), "binary")
		write(t, filepath.Join(base, key+".lock"), "")
	}
	for _, key := range []string{"stale", "current"} {
		if err := os.Chtimes(filepath.Join(base, key), old, old); err != nil {
			t.Fatal(err)
		}
	}
	prune(base, "current")
	for key, want := range map[string]bool{"stale": false, "recent": true, "current": true} {
		if _, err := os.Stat(filepath.Join(base, key)); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", key, err == nil, want)
		}
	}
}
