package deployer

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ecrscanner/infra/ops/modroot"
	"ecrscanner/infra/ops/stack"
)

// fakeELF writes a minimal ELF executable header for machine: enough for
// debug/elf, not a program. It stands in for a QScanner binary in the
// packaging tests.
func fakeELF(t *testing.T, machine elf.Machine) string {
	t.Helper()
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("not QScanner: a header for the deployer's packaging tests")
	p := filepath.Join(t.TempDir(), "fake-qscanner-elf-"+machine.String())
	// Mode 0600 on purpose: the zip must carry 0755 whatever the file's mode.
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readZip returns the entries of a zip file by name.
func readZip(t *testing.T, path string) map[string]*zip.File {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { zr.Close() })
	out := map[string]*zip.File{}
	for _, f := range zr.File {
		out[f.Name] = f
	}
	return out
}

func zipEntryBytes(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteZipHoldsOneExecutableEntry(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "binary")
	content := []byte("pretend this is a linux binary")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "first.zip")
	if err := writeZip(first, "bootstrap", src); err != nil {
		t.Fatal(err)
	}
	entries := readZip(t, first)
	if len(entries) != 1 || entries["bootstrap"] == nil {
		t.Fatalf("entries %v, want exactly bootstrap", entries)
	}
	f := entries["bootstrap"]
	if f.Mode() != 0o755 {
		t.Errorf("mode %v, want -rwxr-xr-x", f.Mode())
	}
	if got := zipEntryBytes(t, f); !bytes.Equal(got, content) {
		t.Errorf("content %q, want %q", got, content)
	}

	// The same input makes the same bytes, so unchanged code keeps its S3
	// key and CloudFormation sees no change.
	second := filepath.Join(dir, "second.zip")
	if err := writeZip(second, "bootstrap", src); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if !bytes.Equal(a, b) {
		t.Error("two zips of the same file differ")
	}
}

func TestZipOnceZipsEachContentOnce(t *testing.T) {
	dir := t.TempDir()
	src, dst, want := filepath.Join(dir, "binary"), filepath.Join(dir, "fn.zip"), filepath.Join(dir, "want.zip")
	zipOf := func(content string) ([]byte, os.FileInfo) {
		t.Helper()
		if err := zipOnce(dst, "bootstrap", src); err != nil {
			t.Fatal(err)
		}
		if err := writeZip(want, "bootstrap", src); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(dst)
		if w, _ := os.ReadFile(want); !bytes.Equal(got, w) {
			t.Fatalf("after zipping %q the zip differs from writeZip's", content)
		}
		fi, err := os.Stat(dst)
		if err != nil {
			t.Fatal(err)
		}
		return got, fi
	}
	write := func(p, content string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(src, "first build")
	_, first := zipOf("first build")
	// writeZip always writes a new file; the same file means no new zip.
	if _, again := zipOf("first build"); !os.SameFile(first, again) {
		t.Error("the zip of an unchanged binary was made again")
	}
	write(src, "second build")
	if _, changed := zipOf("second build"); os.SameFile(first, changed) {
		t.Error("a changed binary kept its old zip")
	}
	write(dst, "not the zip it was")
	zipOf("second build")
}

func TestPackageLayerPutsQScannerAtBinQScanner(t *testing.T) {
	bin := fakeELF(t, elf.EM_X86_64)
	out := t.TempDir()
	a, err := PackageLayer(out, bin, ArchX86)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "qscanner-layer" || filepath.Base(a.Path) != "qscanner-layer.zip" || a.Arch != ArchX86 {
		t.Errorf("artifact %+v", a)
	}
	entries := readZip(t, a.Path)
	if len(entries) != 1 || entries["bin/qscanner"] == nil {
		t.Fatalf("entries %v, want exactly bin/qscanner (it lands at /opt/bin/qscanner)", entries)
	}
	if m := entries["bin/qscanner"].Mode(); m != 0o755 {
		t.Errorf("mode %v, want -rwxr-xr-x although the file is 0600", m)
	}
	want, _ := os.ReadFile(bin)
	if got := zipEntryBytes(t, entries["bin/qscanner"]); !bytes.Equal(got, want) {
		t.Error("bin/qscanner is not the given binary")
	}
	if fi, err := os.Stat(a.Path); err != nil || fi.Size() != a.Size || len(a.SHA256) != 64 {
		t.Errorf("artifact size %d / sha %q does not describe the file (%v)", a.Size, a.SHA256, err)
	}
}

func TestCheckQScanner(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho qscanner\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	amd64, arm64 := fakeELF(t, elf.EM_X86_64), fakeELF(t, elf.EM_AARCH64)
	tests := []struct {
		name    string
		path    string
		arch    string
		wantErr []string // substrings; none means success
		missing bool
	}{
		{"amd64 build for x86_64", amd64, ArchX86, nil, false},
		{"arm64 build for arm64", arm64, ArchARM, nil, false},
		{"missing binary", filepath.Join(dir, "build/layer/bin/qscanner"), ArchX86, []string{"not found", "QSCANNER_LAYER_BIN", "linux-amd64"}, true},
		{"a directory", dir, ArchX86, []string{"regular file"}, false},
		{"empty file", empty, ArchX86, []string{"non-empty"}, false},
		{"a script, not ELF", text, ArchX86, []string{"not a Linux executable"}, false},
		{"amd64 build for arm64 function", amd64, ArchARM, []string{"built for x86_64", "runs on arm64", "SCAN_ARCHITECTURE"}, false},
		{"arm64 build for x86_64 function", arm64, ArchX86, []string{"built for arm64", "runs on x86_64"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckQScanner(tt.path, tt.arch)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if errors.Is(err, ErrNoQScanner) != tt.missing {
				t.Errorf("errors.Is(err, ErrNoQScanner) = %v, want %v", !tt.missing, tt.missing)
			}
		})
	}
}

func TestPackageLayerRefusesMissingBinary(t *testing.T) {
	out := t.TempDir()
	_, err := PackageLayer(out, filepath.Join(out, "nowhere", "qscanner"), ArchX86)
	if !errors.Is(err, ErrNoQScanner) {
		t.Fatalf("error %v, want ErrNoQScanner", err)
	}
	if _, statErr := os.Stat(filepath.Join(out, "qscanner-layer.zip")); !errors.Is(statErr, os.ErrNotExist) {
		t.Error("a layer zip was written although the binary is missing")
	}
}

func TestFunctionTargetsFollowTheTemplate(t *testing.T) {
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		scanArch string
	}{
		{"default x86_64 scan function", ArchX86},
		{"arm64 scan function", ArchARM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := Params{{Key: "ScanArchitecture", Value: tt.scanArch}}
			targets, err := FunctionTargets(tmpl, ps)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, tg := range targets {
				got[tg.Dir] = tg.Arch
			}
			// The scan function follows ScanArchitecture (QScanner ships
			// for linux-amd64); every other function needs no QScanner and
			// runs on arm64.
			want := map[string]string{}
			for _, f := range tmpl.Functions() {
				want[f.HandlerDir] = ArchARM
			}
			want["scan"] = tt.scanArch
			if len(got) != len(want) || len(want) < 5 {
				t.Fatalf("targets %v, want %v", got, want)
			}
			for dir, arch := range want {
				if got[dir] != arch {
					t.Errorf("%s builds for %q, want %q", dir, got[dir], arch)
				}
			}
			layer, err := LayerArch(tmpl, ps)
			if err != nil || layer != tt.scanArch {
				t.Errorf("layer architecture %q (%v), want the scan function's %q", layer, err, tt.scanArch)
			}
		})
	}
}

func TestGOARCH(t *testing.T) {
	for lambdaArch, want := range map[string]string{ArchX86: "amd64", ArchARM: "arm64"} {
		if got, err := GOARCH(lambdaArch); err != nil || got != want {
			t.Errorf("GOARCH(%q) = %q, %v; want %q", lambdaArch, got, err, want)
		}
	}
	if _, err := GOARCH("amd64"); err == nil {
		t.Error("GOARCH accepted a Go architecture name as a Lambda one")
	}
}

func TestContentPrefixFollowsContentOnly(t *testing.T) {
	a := []Artifact{{Name: "scan", SHA256: "aa"}, {Name: "tag", SHA256: "bb"}}
	reordered := []Artifact{{Name: "tag", SHA256: "bb"}, {Name: "scan", SHA256: "aa"}}
	changed := []Artifact{{Name: "scan", SHA256: "aa"}, {Name: "tag", SHA256: "bc"}}
	if contentPrefix(a) != contentPrefix(reordered) {
		t.Error("the prefix depends on the order of the artifacts")
	}
	if contentPrefix(a) == contentPrefix(changed) {
		t.Error("the prefix did not change with a function's code")
	}
	if len(contentPrefix(a)) != 16 {
		t.Errorf("prefix %q, want 16 hex digits", contentPrefix(a))
	}
}

func TestDefaultArtifactsBucket(t *testing.T) {
	tests := []struct {
		name, stack, want string
		wantErr           bool
	}{
		{"default stack", DefaultStackName, "qualys-ecr-scanner-artifacts-123456789012-us-east-1", false},
		{"mixed case stack", "Scanner", "scanner-artifacts-123456789012-us-east-1", false},
		{"too long for a bucket", strings.Repeat("s", 40), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultArtifactsBucket(tt.stack, "123456789012", "us-east-1")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "ARTIFACTS_BUCKET") {
				t.Errorf("error %q does not say how to fix it", err)
			}
		})
	}
}

func TestTemplateURL(t *testing.T) {
	tests := []struct{ region, want string }{
		{"us-east-1", "https://s3.us-east-1.amazonaws.com/b.with.dots/p/templates/x.yaml"},
		{"cn-north-1", "https://s3.cn-north-1.amazonaws.com.cn/b.with.dots/p/templates/x.yaml"},
	}
	for _, tt := range tests {
		if got := TemplateURL(tt.region, "b.with.dots", "p/templates/x.yaml"); got != tt.want {
			t.Errorf("TemplateURL(%s) = %s, want %s", tt.region, got, tt.want)
		}
	}
}

func TestModuleRootFindsGoMod(t *testing.T) {
	root, err := modroot.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "handlers", "scan")); err != nil {
		t.Errorf("module root %s has no handlers/scan: %v", root, err)
	}
}
