// Command qscanner-standin is a TEST TOOL that stands in for Qualys QScanner,
// which is proprietary and not available to tests. It is not Qualys QScanner
// and finds nothing: it honours QScanner's documented command line,
// environment, exit codes and output file names (QSCANNER.md) and writes
// canned or generated output, so the runner can be tested end to end.
// Deployed code never falls back to it.
//
// Environment (besides QScanner's own HOME, TMPDIR, QUALYS_ACCESS_TOKEN and
// DISABLE_QSCANNER_BANNER):
//
//	QSCANNER_STANDIN_MODE      how to behave: ok (default) | hang | crash | panic |
//	                           garbage | exit40 | exit42 | exit43 | notfound |
//	                           registry-auth | slow. Per image:
//	                           "default=ok,sha256:<hex>=exit40".
//	QSCANNER_STANDIN_FIXTURE   a directory holding <id>-ScanResult.json and
//	                           <id>-Report.sarif.json to copy (imageDigest set
//	                           to the scanned digest, QScannerVersion to
//	                           0.0.0-standin). Unset: generated output.
//	QSCANNER_STANDIN_FINDINGS  number of generated findings when no fixture is
//	                           given (default 5): finding i has Qualys level
//	                           i%5+1 and a fixed version when i is even; one
//	                           secret is generated.
//	QSCANNER_STANDIN_VARY      a directory where the stand-in counts its runs per
//	                           digest: each later run of a digest drops the first
//	                           2 generated findings and adds 5 (one HIGH, one
//	                           CRITICAL), imitating new vulnerabilities published
//	                           between scans, for rescan tests and make run.
//	QSCANNER_STANDIN_SLEEP     how long mode slow sleeps (default 2s).
//	QSCANNER_STANDIN_RECORD    a file to which each invocation appends one JSON
//	                           line: argv, has_token_env, home, tmpdir, pid,
//	                           aws_region (never the token or AWS secrets).
package main

import (
	"fmt"
	"os"
)

const (
	version = "0.0.0-standin"
	banner  = "qscanner stand-in: a test tool, not Qualys QScanner"
)

type invocation struct {
	flags   map[string]string
	command string
	target  string
	types   []string // expanded: pkg becomes os, sca
}

func main() {
	if os.Getenv("QSCANNER_STANDIN_CHILD") == "1" {
		child()
	}
	record(nil)
	if os.Getenv("DISABLE_QSCANNER_BANNER") != "yes" {
		fmt.Fprintln(os.Stderr, banner)
	}
	inv, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(2)
	}
	switch inv.command {
	case "configure", "clear-local-cache", "show-scan-metadata":
		os.Exit(0)
	case "show-scanner-version-hash":
		fmt.Println(version)
		os.Exit(0)
	}
	if os.Getenv("HOME") == "" && os.Getenv("XDG_CONFIG_HOME") == "" {
		fmt.Fprintln(os.Stderr, "Error: failed to initialise: $HOME is not defined")
		os.Exit(1)
	}
	token := os.Getenv("QUALYS_ACCESS_TOKEN")
	if t := inv.flags["access-token"]; t != "" {
		token = t
	}
	if token == "" || token == "invalid" {
		fmt.Fprintln(os.Stderr, "Error: 401 unauthorized: invalid Qualys access token")
		os.Exit(1)
	}
	os.Exit(scan(inv))
}
