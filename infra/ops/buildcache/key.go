package buildcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// cacheBase is where the cached builds live: one folder per key beside its
// lock file.
func cacheBase() string { return filepath.Join(os.TempDir(), "ecrscanner-build") }

// toolchainVars are the go env values besides the target that change what
// go build makes.
var toolchainVars = []string{"GOVERSION", "GOROOT", "GOFLAGS", "GOEXPERIMENT", "GOAMD64", "GOARM64", "GOWORK", "GOOS", "GOARCH", "CGO_ENABLED"}

// cacheKey names a build by everything that makes its binaries what they
// are: the go command's view of the toolchain and target, the flags, and
// the module's source (see hashSource). Dependencies need no hashing of
// their own: go.sum pins them.
func cacheKey(ctx context.Context, spec Spec) (string, error) {
	cmd := exec.CommandContext(ctx, spec.goCmd(), append([]string{"env"}, toolchainVars...)...)
	cmd.Dir = spec.Root
	cmd.Env = spec.env()
	goEnv, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "go env:\n%s\nflags: %q\n", goEnv, spec.Flags)
	if err := hashSource(h, spec.Root); err != nil {
		return "", fmt.Errorf("hash the source under %s: %w", spec.Root, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// hashSource writes into h every file under root that go build may read:
// go.mod, go.sum and the .go files at the root, and every file below it
// except tests and what go ignores (folders starting with . or _) or the
// checkout keeps out of git (build/, bin/). It hashes more than a given
// build reads, which costs a rebuild now and then, never a stale binary.
func hashSource(h hash.Hash, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || rel == "build" || rel == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		atRoot := filepath.Dir(rel) == "."
		switch {
		case !d.Type().IsRegular(), strings.HasSuffix(name, "_test.go"):
			return nil
		case atRoot && name != "go.mod" && name != "go.sum" && !strings.HasSuffix(name, ".go"):
			// The root also holds what go build ./handlers/<fn> leaves behind.
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		n, err := io.Copy(h, f)
		fmt.Fprintf(h, "\x00%d\n", n)
		return err
	})
}
