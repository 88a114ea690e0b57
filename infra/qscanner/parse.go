// Package qscanner runs Qualys QScanner for one image and turns its output
// directory into a domain.Report. QScanner's contract (flags, environment,
// exit codes, output files) is described in QSCANNER.md; the binary itself is
// proprietary, so tests run a stand-in from testdata/qscanner-standin.
package qscanner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ecrscanner/domain"
)

const (
	scanResultSuffix = "-ScanResult.json"
	sarifSuffix      = "-Report.sarif.json"
)

// ParseDir reads a QScanner output directory: vulnerabilities from
// <image-id>-Report.sarif.json, secrets and metadata from
// <image-id>-ScanResult.json. The secrets' matched text is never read into
// the report.
//
// Output that cannot be trusted to be complete is an error, never a zero
// count: a missing or malformed file, or a missing vulnerability report when
// a package scan ran. The error is a domain.Failure of class
// FailureUnparseableOutput (errors.As with *domain.Failure or
// domain.Failure). Unknown fields are ignored and unreadable values degrade
// to unknown (an unknown severity is SeverityUnknown, never LOW).
//
// Report.Digest is the image digest the SARIF names, when it is a valid
// digest; callers that know which image they scanned should set it.
//
// ParseDir has no deadline: it is for tools. The runner's parse stops at the
// scan's deadline.
func ParseDir(dir string) (*domain.Report, error) {
	return parseDir(context.Background(), dir, parseOptions{})
}

// ParsePartialDir reads the output QScanner leaves when it could not fetch
// the vulnerability report (exit 40): the report is marked Partial, and a
// missing or unreadable SARIF file is not an error. Its vulnerability list,
// if empty, means "unknown", not "none".
func ParsePartialDir(dir string) (*domain.Report, error) {
	return parseDir(context.Background(), dir, parseOptions{partial: true})
}

type parseOptions struct {
	// partial accepts output without a vulnerability report.
	partial bool
	// wantReport requires the vulnerability report whatever ScanResult.json
	// says was scanned (the runner asked for a package scan).
	wantReport bool
}

// parseDir is parseOutput without the conflicts.
func parseDir(ctx context.Context, dir string, opt parseOptions) (*domain.Report, error) {
	rep, _, err := parseOutput(ctx, dir, opt)
	return rep, err
}

// parseOutput reads an output directory as ParseDir describes, and returns
// with the report the conflicts it settled inside QScanner's output (rules
// described twice, differently: the worse value is in the report). The
// report is complete without them; they are for the runner to log.
//
// The parse stops when ctx is done, between reads and between findings, with
// a FailureTimeout.
//
// The report's metadata is bounded (boundReport): it travels on the scan
// record and the bus events, which have size limits.
func parseOutput(ctx context.Context, dir string, opt parseOptions) (*domain.Report, []conflict, error) {
	rep, conflicts, err := readOutput(ctx, dir, opt)
	if rep != nil {
		boundReport(rep)
	}
	return rep, conflicts, err
}

// readOutput is parseOutput without the bounds.
func readOutput(ctx context.Context, dir string, opt parseOptions) (*domain.Report, []conflict, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, readFailure(dir, err)
	}
	srPath, sarifPath, err := findOutputs(dir)
	if err != nil {
		return nil, nil, fail(domain.FailureUnparseableOutput, 0, "%v", err).with(err)
	}
	sr, err := readFile(ctx, srPath, decodeScanResult)
	if err != nil {
		return nil, nil, readFailure(srPath, err)
	}
	rep := &domain.Report{
		Platform:        sr.platform,
		OS:              sr.os,
		QScannerVersion: sr.version,
		ScanTypes:       sr.scanTypes,
		Partial:         opt.partial,
		Vulnerabilities: []domain.Vulnerability{},
		Secrets:         sr.secrets,
	}
	if sarifPath == "" {
		if !opt.partial && (opt.wantReport || sr.ranPackageScan()) {
			return nil, nil, fail(domain.FailureUnparseableOutput, 0, "no *%s in the output although a package scan ran", sarifSuffix)
		}
		return rep, nil, nil
	}
	sa, err := readSARIF(ctx, sarifPath)
	if err != nil {
		if opt.partial && ctx.Err() == nil {
			return rep, nil, nil // the report QScanner failed to fetch: vulnerabilities unknown
		}
		return nil, nil, readFailure(sarifPath, err)
	}
	rep.Vulnerabilities = sa.vulnerabilities
	if d, err := domain.ParseDigest(digestOf(sa.digest)); err == nil {
		rep.Digest = d
	}
	if sa.os != "" {
		rep.OS = sa.os
	}
	if rep.QScannerVersion == "" {
		rep.QScannerVersion = sa.toolVersion
	}
	return rep, sa.conflicts, nil
}

// readFailure is the failure for an output file that could not be read: a
// timeout if the deadline stopped the parse, else unparseable output.
func readFailure(path string, err error) *failureError {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fail(domain.FailureTimeout, 0, "%s: parse stopped at the deadline: %v", filepath.Base(path), err).with(err)
	}
	return fail(domain.FailureUnparseableOutput, 0, "%s: %v", filepath.Base(path), err).with(err)
}

// findOutputs locates the two output files. More than one of a kind, or a
// pair naming different images, means the directory mixes scans.
func findOutputs(dir string) (scanResult, sarif string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", "", fmt.Errorf("read output dir: %w", err)
	}
	var srs, sarifs []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		switch n := e.Name(); {
		case strings.HasSuffix(n, scanResultSuffix):
			srs = append(srs, n)
		case strings.HasSuffix(n, sarifSuffix):
			sarifs = append(sarifs, n)
		}
	}
	switch {
	case len(srs) == 0:
		return "", "", fmt.Errorf("no *%s in the output", scanResultSuffix)
	case len(srs) > 1:
		return "", "", fmt.Errorf("%d *%s files in the output: want one", len(srs), scanResultSuffix)
	case len(sarifs) > 1:
		return "", "", fmt.Errorf("%d *%s files in the output: want one", len(sarifs), sarifSuffix)
	}
	scanResult = filepath.Join(dir, srs[0])
	if len(sarifs) == 1 {
		if a, b := strings.TrimSuffix(srs[0], scanResultSuffix), strings.TrimSuffix(sarifs[0], sarifSuffix); a != b {
			return "", "", fmt.Errorf("output files name different images (%.12s, %.12s)", a, b)
		}
		sarif = filepath.Join(dir, sarifs[0])
	}
	return scanResult, sarif, nil
}

// digestOf takes the digest out of "sha256:…" or "name@sha256:…".
func digestOf(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[i+1:]
	}
	return s
}
