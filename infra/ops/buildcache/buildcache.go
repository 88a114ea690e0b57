// Package buildcache builds this module's programs — the functions'
// bootstrap binaries, test tools — with go build, either fresh (Build, what
// make deploy runs) or at most once per source content, platform and flags
// (BuildCached, what the tests and the local runner use).
//
// Why a cache of our own: go test ./... runs each package's tests in a
// process of its own, and two of them (the deployer's and the local
// runner's) need the same function binaries, several times over. Go's build
// cache keeps compiled packages but links every binary anew, and once it
// holds the packages, linking is most of what a build costs. BuildCached
// keeps the linked binaries under os.TempDir()/ecrscanner-build/<key>, where
// key hashes the toolchain, the target, the flags and the module's source,
// so every test process of a run, and the next run while nothing changed,
// finds them there.
package buildcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// Spec says what to build from and how.
type Spec struct {
	// Root is the module root (the folder holding go.mod); packages are
	// given relative to it, such as ./handlers/scan.
	Root string
	// GOOS and GOARCH name the target; empty means this machine's. cgo is
	// always off: the functions run on provided.al2023 as static binaries.
	GOOS, GOARCH string
	// Flags are go build flags, such as -tags lambda.norpc or -trimpath.
	Flags []string
	// Go is the go command; empty means $GO, else go from PATH.
	Go string
}

// Build compiles pkgs with one go build into dir, which it creates; each
// binary is named after the last element of its package path, as
// go build -o dir/ names it.
func Build(ctx context.Context, spec Spec, dir string, pkgs ...string) error {
	if len(pkgs) == 0 {
		return errors.New("go build: no packages")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := append([]string{"build"}, spec.Flags...)
	args = append(args, "-o", dir+string(filepath.Separator))
	cmd := exec.CommandContext(ctx, spec.goCmd(), append(args, pkgs...)...)
	cmd.Dir = spec.Root
	cmd.Env = spec.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s/%s: %w\n%s", strings.Join(pkgs, " "), spec.goos(), spec.goarch(), err, bytes.TrimSpace(out))
	}
	return nil
}

// BuildCached leaves in dir what Build would, taking each binary from the
// shared cache and building only those the cache lacks. Test processes may
// call it at once: one builds while the others wait for it, and a binary
// enters the cache by rename, whole or not at all. The binaries in dir are
// hard links to the cached ones (copies where a link cannot be made), so
// pruning the cache later leaves them intact; nothing may write to them.
func BuildCached(ctx context.Context, spec Spec, dir string, pkgs ...string) error {
	if len(pkgs) == 0 {
		return errors.New("go build: no packages")
	}
	key, err := cacheKey(ctx, spec)
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	base := cacheBase()
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	unlock, err := lock(filepath.Join(base, key+".lock"))
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	defer unlock()
	entry := filepath.Join(base, key)
	fresh, err := fill(ctx, spec, entry, pkgs)
	if err != nil {
		return err
	}
	if err := install(entry, dir, pkgs); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	if fresh {
		prune(base, key)
	}
	return nil
}

// fill builds into entry the packages it lacks, and reports whether entry
// is new. The caller holds entry's lock.
func fill(ctx context.Context, spec Spec, entry string, pkgs []string) (fresh bool, err error) {
	if _, err := os.Stat(entry); errors.Is(err, os.ErrNotExist) {
		fresh = true
	}
	var missing []string
	for _, p := range pkgs {
		if _, err := os.Stat(cachedPath(entry, p)); err != nil {
			missing = append(missing, p)
		}
	}
	if err := os.MkdirAll(entry, 0o755); err != nil {
		return fresh, fmt.Errorf("build cache: %w", err)
	}
	// Marks entry as in use, for prune.
	if err := touch(entry); err != nil {
		return fresh, fmt.Errorf("build cache: %w", err)
	}
	if len(missing) == 0 {
		return fresh, nil
	}
	tmp, err := os.MkdirTemp(entry, ".build-")
	if err != nil {
		return fresh, fmt.Errorf("build cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := Build(ctx, spec, tmp, missing...); err != nil {
		return fresh, err
	}
	for _, p := range missing {
		dst := cachedPath(entry, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fresh, fmt.Errorf("build cache: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, binaryName(p)), dst); err != nil {
			return fresh, fmt.Errorf("build cache: %w", err)
		}
	}
	return fresh, nil
}

// install puts each package's cached binary into dir under its binary name.
func install(entry, dir string, pkgs []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range pkgs {
		dst := filepath.Join(dir, binaryName(p))
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		src := cachedPath(entry, p)
		if os.Link(src, dst) == nil {
			continue
		}
		if err := copyFile(src, dst); err != nil {
			return err
		}
	}
	return nil
}

// cachedPath keeps a package's binary under its whole package path, so two
// packages whose paths end alike do not share a name in the cache.
func cachedPath(entry, pkg string) string {
	clean := path.Clean(strings.TrimPrefix(filepath.ToSlash(pkg), "./"))
	return filepath.Join(entry, filepath.FromSlash(clean), binaryName(pkg))
}

// binaryName is the name go build -o dir/ gives pkg's binary.
func binaryName(pkg string) string {
	name := path.Base(filepath.ToSlash(pkg))
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	return name
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

func (s Spec) goCmd() string {
	switch {
	case s.Go != "":
		return s.Go
	case os.Getenv("GO") != "":
		return os.Getenv("GO")
	}
	return "go"
}

func (s Spec) goos() string {
	if s.GOOS != "" {
		return s.GOOS
	}
	return runtime.GOOS
}

func (s Spec) goarch() string {
	if s.GOARCH != "" {
		return s.GOARCH
	}
	return runtime.GOARCH
}

// env is this process's environment with the target set and cgo off.
func (s Spec) env() []string {
	var out []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOOS", "GOARCH", "CGO_ENABLED":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GOOS="+s.goos(), "GOARCH="+s.goarch(), "CGO_ENABLED=0")
}
