package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// SizeBudget is how much bigger than its floor a function's binary may be.
const SizeBudget = 1.3

// measureSize compares each function's bootstrap, built as make build
// builds it, with its floor's, and says what the X-Ray SDK adds to the floor.
func (b *bench) measureSize(ctx context.Context) section {
	var s section
	bins, err := b.build(ctx, b.tmp+"/deploy", "")
	if err != nil {
		return section{rows: []Row{errRow("binary size", err)}}
	}
	for _, fn := range b.functions {
		size, err1 := fileSize(bins.fn[fn])
		floor, err2 := fileSize(bins.floor[fn])
		xray, err3 := fileSize(bins.floorXRay[fn])
		if err := firstErr(err1, err2, err3); err != nil {
			s.rows = append(s.rows, errRow("binary size "+fn, err))
			continue
		}
		s.rows = append(s.rows, ratioRow(fmt.Sprintf("binary size %s (linux/%s)", fn, deployArch(fn)), mb(size), mb(floor), "%.1f MB", SizeBudget))
		if fn == "scan" {
			s.notes = append(s.notes, fmt.Sprintf("size: the floor is a bootstrap building the same SDK clients (infra/ops/bench/testdata/floor/<fn>); with X-Ray set up as infra/startup does it is %.1f MB for scan (+%.1f MB: the X-Ray SDK)", mb(xray), mb(xray-floor)))
		}
	}
	s.notes = append(s.notes, "size: "+b.xrayDeps(ctx))
	var extras []string
	for _, fn := range b.functions {
		if e := b.extraServices(ctx, fn); e != "" {
			extras = append(extras, fn+": "+e)
		}
	}
	if len(extras) > 0 {
		s.notes = append(s.notes, "size: SDK service packages linked but never built, pulled in by shared start-up code — "+strings.Join(extras, "; "))
	}
	return s
}

// xrayDeps names the heavy modules the X-Ray SDK brings into the scan
// function's link.
func (b *bench) xrayDeps(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", "lambda.norpc", "-f", "{{if .Module}}{{.Module.Path}}{{end}}", "./handlers/scan")
	cmd.Dir = b.root
	out, err := cmd.Output()
	if err != nil {
		return "go list -deps: " + err.Error()
	}
	heavy := map[string]bool{}
	for _, m := range strings.Fields(string(out)) {
		for _, h := range []string{"github.com/aws/aws-sdk-go", "google.golang.org/grpc", "github.com/valyala/fasthttp", "google.golang.org/protobuf", "github.com/andybalholm/brotli", "github.com/klauspost/compress"} {
			if m == h {
				heavy[m] = true
			}
		}
	}
	if len(heavy) == 0 {
		return "none of aws-sdk-go v1, grpc, fasthttp, protobuf, brotli, klauspost/compress is linked into the scan function"
	}
	var names []string
	for m := range heavy {
		names = append(names, m)
	}
	return "linked into the scan function through aws-xray-sdk-go: " + strings.Join(sortedStrings(names), ", ")
}

func mb(n int64) float64 { return float64(n) / 1e6 }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
