package deployer

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"ecrscanner/infra/ops/buildcache"
	"ecrscanner/infra/ops/stack"
)

// Lambda architectures, as the template and the Lambda API spell them.
const (
	ArchX86 = "x86_64"
	ArchARM = "arm64"
)

// DefaultQScannerBinary is where the seed's README tells users to put the
// QScanner binary they downloaded, relative to the project root.
const DefaultQScannerBinary = "build/layer/bin/qscanner"

// LayerEntry is the QScanner binary's path inside the layer zip; Lambda
// extracts layers under /opt, so it runs as /opt/bin/qscanner, where the
// scan function's QSCANNER_BIN points.
const LayerEntry = "bin/qscanner"

// ErrNoQScanner means the QScanner binary to package is missing.
var ErrNoQScanner = errors.New("QScanner binary not found")

// zipTime is the modification time of every zip entry, so the same binary
// always makes the same zip and an unchanged function is not redeployed.
var zipTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// GOARCH returns the Go architecture that builds for a Lambda architecture.
func GOARCH(lambdaArch string) (string, error) {
	switch lambdaArch {
	case ArchX86:
		return "amd64", nil
	case ArchARM:
		return "arm64", nil
	}
	return "", fmt.Errorf("unknown Lambda architecture %q (want %s or %s)", lambdaArch, ArchX86, ArchARM)
}

// Target is one function to build: the program in handlers/<Dir>, for a
// Lambda architecture.
type Target struct {
	Dir  string
	Arch string
}

// Artifact is one zip to upload.
type Artifact struct {
	// Name is the zip's base name without ".zip": the handler directory, or
	// "qscanner-layer".
	Name   string
	Path   string
	Arch   string
	Size   int64
	SHA256 string
}

// BuildOptions say where and how the functions are built.
type BuildOptions struct {
	// ModuleRoot is the directory holding go.mod.
	ModuleRoot string
	// OutDir receives the binaries and zips; it is created if missing.
	OutDir string
	// Go is the go command; empty means "go" from PATH.
	Go string
}

// BuildFunctions builds each target as a static linux binary for
// provided.al2023 (GOOS=linux CGO_ENABLED=0 go build -tags lambda.norpc
// -trimpath -ldflags='-s -w'), one go invocation per architecture, and
// writes <OutDir>/<dir>.zip holding the binary as "bootstrap", mode 0755.
// The artifacts come back in the order of targets.
func BuildFunctions(ctx context.Context, opts BuildOptions, targets []Target) ([]Artifact, error) {
	if len(targets) == 0 {
		return nil, errors.New("build: no functions")
	}
	byArch := map[string][]string{}
	for _, t := range targets {
		if _, err := GOARCH(t.Arch); err != nil {
			return nil, fmt.Errorf("build %s: %w", t.Dir, err)
		}
		byArch[t.Arch] = append(byArch[t.Arch], t.Dir)
	}
	arches := make([]string, 0, len(byArch))
	for a := range byArch {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	for _, arch := range arches {
		goarch, _ := GOARCH(arch)
		spec := buildcache.Spec{Root: opts.ModuleRoot, GOOS: "linux", GOARCH: goarch, Flags: lambdaBuildFlags, Go: opts.Go}
		pkgs := make([]string, len(byArch[arch]))
		for i, dir := range byArch[arch] {
			pkgs[i] = "./handlers/" + dir
		}
		if err := compile(ctx, spec, filepath.Join(opts.OutDir, "bin", arch), pkgs...); err != nil {
			return nil, fmt.Errorf("build %s for linux/%s: %w", strings.Join(byArch[arch], ", "), goarch, err)
		}
	}
	artifacts := make([]Artifact, 0, len(targets))
	for _, t := range targets {
		bin := filepath.Join(opts.OutDir, "bin", t.Arch, path.Base(t.Dir))
		dst := filepath.Join(opts.OutDir, t.Dir+".zip")
		if err := zipOnce(dst, "bootstrap", bin); err != nil {
			return nil, fmt.Errorf("package %s: %w", t.Dir, err)
		}
		a, err := describeArtifact(t.Dir, dst, t.Arch)
		if err != nil {
			return nil, err
		}
		artifacts = append(artifacts, a)
	}
	return artifacts, nil
}

// lambdaBuildFlags are the go build flags of every function for
// provided.al2023.
var lambdaBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// compile builds the functions' packages into a folder: afresh, unless
// $ECRSCAN_BUILD_CACHE is "shared". The deployer's tests set it, for
// themselves and the make targets they run, so that every test and test
// process of a run links each binary once (buildcache.BuildCached); the
// binaries are the same either way.
var compile = func() func(context.Context, buildcache.Spec, string, ...string) error {
	if os.Getenv(buildCacheEnv) == "shared" {
		return buildcache.BuildCached
	}
	return buildcache.Build
}()

// buildCacheEnv names the variable that makes the deployer build through
// the shared build cache (see compile).
const buildCacheEnv = "ECRSCAN_BUILD_CACHE"

// PackageLayer writes <outDir>/qscanner-layer.zip holding the QScanner
// binary at bin/qscanner, mode 0755, after checking with CheckQScanner that
// it is a Linux executable for arch. There is no fallback: a missing binary
// is an error wrapping ErrNoQScanner that says where to get one.
func PackageLayer(outDir, qscanner, arch string) (Artifact, error) {
	if err := CheckQScanner(qscanner, arch); err != nil {
		return Artifact{}, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("package QScanner layer: %w", err)
	}
	dst := filepath.Join(outDir, layerName+".zip")
	if err := zipOnce(dst, LayerEntry, qscanner); err != nil {
		return Artifact{}, fmt.Errorf("package QScanner layer: %w", err)
	}
	return describeArtifact(layerName, dst, arch)
}

const layerName = "qscanner-layer"

// CheckQScanner checks that path holds a Linux executable the scan function
// can run on the Lambda architecture arch.
func CheckQScanner(path, arch string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w at %s: download QScanner for Linux (qscanner-<version>.linux-amd64.tar.gz) from the Qualys portal, "+
			"put the qscanner binary there (mkdir -p %s), or set QSCANNER_LAYER_BIN to its path", ErrNoQScanner, path, filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("QScanner binary %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return fmt.Errorf("QScanner binary %s: not a non-empty regular file", path)
	}
	machine, err := elfMachine(path)
	if err != nil {
		return fmt.Errorf("QScanner binary %s is not a Linux executable (ELF): use the binary from qscanner-<version>.linux-amd64.tar.gz", path)
	}
	want := map[string]elf.Machine{ArchX86: elf.EM_X86_64, ArchARM: elf.EM_AARCH64}[arch]
	if machine != want {
		return fmt.Errorf("QScanner binary %s is built for %s, but the scan function runs on %s: "+
			"set SCAN_ARCHITECTURE to match the binary (Qualys ships linux-amd64, i.e. %s)", path, machineName(machine), arch, ArchX86)
	}
	return nil
}

func elfMachine(path string) (elf.Machine, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return 0, fmt.Errorf("ELF type %s is not an executable", f.Type)
	}
	return f.Machine, nil
}

func machineName(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return ArchX86
	case elf.EM_AARCH64:
		return ArchARM
	}
	return m.String()
}

// hostRuns reports whether this machine can execute an ELF binary built for
// machine, and if not, why.
func hostRuns(machine elf.Machine) (bool, string) {
	host := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if runtime.GOOS != "linux" || host != machine {
		return false, fmt.Sprintf("built for linux/%s; this host is %s/%s", machineName(machine), runtime.GOOS, runtime.GOARCH)
	}
	return true, ""
}

// writeZip writes a zip at dst with one entry, name, holding the file src
// with mode 0755 whatever src's own mode, and a fixed time.
func writeZip(dst, name, src string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".zip-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// zipOnce is writeZip, skipping the work when dst is already the zip of
// the same content: deflating a 30 MB binary takes about a second, and a
// deploy, a redeploy and updates zip the same binaries again and again. The
// record dst.source holds the SHA-256 of the file zipped and of the zip
// made from it; dst stays only when both match, so a changed binary or a
// zip changed since is zipped anew.
func zipOnce(dst, name, src string) error {
	srcSum, err := fileSHA256(src)
	if err != nil {
		return err
	}
	record := dst + ".source"
	if b, err := os.ReadFile(record); err == nil {
		if zipSum, err := fileSHA256(dst); err == nil && string(b) == zipRecord(name, srcSum, zipSum) {
			return nil
		}
	}
	if err := writeZip(dst, name, src); err != nil {
		return err
	}
	zipSum, err := fileSHA256(dst)
	if err != nil {
		return err
	}
	return os.WriteFile(record, []byte(zipRecord(name, srcSum, zipSum)), 0o644)
}

// zipRecord names a zip by its entry, what writeZip fixes (time, method,
// mode) and the checksums of its source and of itself.
func zipRecord(name, srcSum, zipSum string) string {
	return fmt.Sprintf("entry %s 0755 deflate %s\nsource sha256 %s\nzip sha256 %s\n", name, zipTime.Format(time.RFC3339), srcSum, zipSum)
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func describeArtifact(name, p, arch string) (Artifact, error) {
	sum, err := fileSHA256(p)
	if err != nil {
		return Artifact{}, fmt.Errorf("read %s: %w", p, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Artifact{}, fmt.Errorf("read %s: %w", p, err)
	}
	return Artifact{Name: name, Path: p, Arch: arch, Size: fi.Size(), SHA256: sum}, nil
}

// contentPrefix names a set of artifacts by their content, so that the S3
// keys change exactly when some code changes: CloudFormation updates a
// function only when its Code property changes.
func contentPrefix(artifacts []Artifact) string {
	sorted := append([]Artifact(nil), artifacts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	h := sha256.New()
	for _, a := range sorted {
		fmt.Fprintf(h, "%s %s\n", a.Name, a.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// FunctionTargets lists the template's functions with the architecture each
// runs on: a literal in the template, or a parameter it refers to.
func FunctionTargets(t *stack.Template, ps Params) ([]Target, error) {
	var out []Target
	for _, f := range t.Functions() {
		if f.HandlerDir == "" {
			return nil, fmt.Errorf("function %s: its code key is not <prefix>/<handler>.zip", f.LogicalID)
		}
		arch := ArchX86 // Lambda's default
		if len(f.Architectures) > 0 {
			a, err := paramOrLiteral(f.Architectures[0], ps)
			if err != nil {
				return nil, fmt.Errorf("function %s architecture: %w", f.LogicalID, err)
			}
			arch = a
		}
		if _, err := GOARCH(arch); err != nil {
			return nil, fmt.Errorf("function %s: %w", f.LogicalID, err)
		}
		out = append(out, Target{Dir: f.HandlerDir, Arch: arch})
	}
	if len(out) == 0 {
		return nil, errors.New("the template has no functions")
	}
	return out, nil
}

// LayerArch returns the architecture the template's QScanner layer is built
// for (its first CompatibleArchitectures entry).
func LayerArch(t *stack.Template, ps Params) (string, error) {
	for id, r := range t.Resources {
		if r.Type != "AWS::Lambda::LayerVersion" {
			continue
		}
		content, _ := r.Properties["Content"].(map[string]any)
		key, ok := content["S3Key"].(string)
		if sub, isSub := content["S3Key"].(map[string]any); !ok && isSub {
			key, _ = sub["Fn::Sub"].(string)
		}
		if !strings.HasSuffix(key, "/"+layerName+".zip") {
			continue
		}
		archs, _ := r.Properties["CompatibleArchitectures"].([]any)
		if len(archs) == 0 {
			return ArchX86, nil
		}
		a, err := paramOrLiteral(archs[0], ps)
		if err != nil {
			return "", fmt.Errorf("layer %s architecture: %w", id, err)
		}
		return a, nil
	}
	return "", fmt.Errorf("the template has no layer with code key <prefix>/%s.zip", layerName)
}

func paramOrLiteral(v any, ps Params) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok && len(x) == 1 {
			if val := ps.Value(ref); val != "" {
				return val, nil
			}
			return "", fmt.Errorf("parameter %s has no value", ref)
		}
	}
	return "", fmt.Errorf("cannot read %v: want a literal or a Ref to a parameter", v)
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
