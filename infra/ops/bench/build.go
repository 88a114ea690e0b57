package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ecrscanner/infra/ops/buildcache"
	"ecrscanner/infra/ops/stack"
)

// floorPkg is the floor program of handlers/<fn> (testdata/floor/<fn>).
func floorPkg(fn string) string { return "./infra/ops/bench/testdata/floor/" + fn }

// deployArch is the architecture make build builds fn for: arm64, except
// the scan function, whose QScanner layer is x86_64 by default.
func deployArch(fn string) string {
	if fn == "scan" {
		return "amd64"
	}
	return "arm64"
}

// functions lists the handler folders of the template's functions, sorted.
func functions() ([]string, error) {
	t, err := stack.Load()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range t.Functions() {
		out = append(out, f.HandlerDir)
	}
	sort.Strings(out)
	return out, nil
}

// binaries are one build of every function and its floors.
type binaries struct {
	dir string
	// fn, floor and floorXRay map a handler folder to a binary path.
	fn, floor, floorXRay map[string]string
}

// build compiles every function, its floor and its floor with X-Ray set up
// for goarch ("" for each function's deployArch) under dir, with make
// build's flags: one go build per kind of binary and architecture, so the
// go command links them in parallel.
func (b *bench) build(ctx context.Context, dir, goarch string) (*binaries, error) {
	out := &binaries{dir: dir, fn: map[string]string{}, floor: map[string]string{}, floorXRay: map[string]string{}}
	byArch := map[string][]string{}
	for _, fn := range b.functions {
		arch := goarch
		if arch == "" {
			arch = deployArch(fn)
		}
		byArch[arch] = append(byArch[arch], fn)
	}
	kinds := []struct {
		name string
		tags string
		pkg  func(fn string) string
		into map[string]string
	}{
		{"fn", "lambda.norpc", func(fn string) string { return "./handlers/" + fn }, out.fn},
		{"floor", "lambda.norpc", floorPkg, out.floor},
		{"floor-xray", "lambda.norpc,benchxray", floorPkg, out.floorXRay},
	}
	for arch, fns := range byArch {
		for _, k := range kinds {
			spec := buildcache.Spec{Root: b.root, GOOS: "linux", GOARCH: arch, Flags: []string{"-tags", k.tags, "-trimpath", "-ldflags=-s -w"}}
			d := filepath.Join(dir, arch, k.name)
			var pkgs []string
			for _, fn := range fns {
				pkgs = append(pkgs, k.pkg(fn))
				k.into[fn] = filepath.Join(d, fn)
			}
			b.progress("go build %s for linux/%s: %s", k.name, arch, strings.Join(fns, " "))
			if err := buildcache.Build(ctx, spec, d, pkgs...); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
