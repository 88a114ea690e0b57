package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

var digestRE = regexp.MustCompile(`sha256:[a-f0-9]{64}`)

// scan behaves as QSCANNER_STANDIN_MODE says for the target and returns
// the exit code.
func scan(inv *invocation) int {
	digest := digestRE.FindString(inv.target)
	if inv.command != "image" || digest == "" {
		sum := sha256.Sum256([]byte(inv.target))
		digest = "sha256:" + hex.EncodeToString(sum[:])
	}
	outDir := inv.flags["output-dir"]
	if outDir == "" {
		outDir = filepath.Join(os.Getenv("HOME"), "qualys", "qscanner", "data")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "Error: output dir: %v\n", err)
		return 30
	}
	idSum := sha256.Sum256([]byte("qscanner-standin:" + digest))
	prefix := filepath.Join(outDir, hex.EncodeToString(idSum[:]))
	srPath, sarifPath := prefix+"-ScanResult.json", prefix+"-Report.sarif.json"

	mode := modeFor(digest)
	if code, done := misbehave(inv, mode, digest, srPath, sarifPath); done {
		return code
	}
	srPath, sarifPath = inv.wantedOutputs(srPath, sarifPath)
	if err := writeOutputs(inv, digest, srPath, sarifPath); err != nil {
		return 30
	}
	switch mode {
	case "exit42":
		fmt.Fprintln(os.Stderr, "policy evaluation result: DENY")
		return 42
	case "exit43":
		fmt.Fprintln(os.Stderr, "policy evaluation result: AUDIT")
		return 43
	}
	return 0
}

// misbehave acts out the modes that end the scan before its outputs are
// written (done), with the exit code; the others go on to write them.
func misbehave(inv *invocation, mode, digest, srPath, sarifPath string) (code int, done bool) {
	switch mode {
	case "ok", "exit42", "exit43":
	case "slow":
		d, err := time.ParseDuration(os.Getenv("QSCANNER_STANDIN_SLEEP"))
		if err != nil {
			d = 2 * time.Second
		}
		time.Sleep(d)
	case "hang":
		fmt.Fprintln(os.Stderr, "scanning layers...")
		hang()
	case "crash":
		fmt.Fprintln(os.Stderr, "analysing layer 3/7")
		debug.SetTraceback("crash") // die by SIGABRT after the trace, as a crashing binary does
		var p *int
		*p = 1
	case "panic":
		var p *int
		*p = 1 // an ordinary Go panic: exit 2 with a trace
	case "garbage":
		_ = os.WriteFile(srPath, []byte("qscanner: {not json\x00\x01"), 0o644)
		_ = os.WriteFile(sarifPath, []byte("<html><body>502 Bad Gateway</body></html>"), 0o644)
		return 0, true
	case "exit40":
		if err := writeOutputs(inv, digest, srPath, ""); err != nil {
			return 30, true
		}
		fmt.Fprintln(os.Stderr, "Error: failed to get the vulnerability report: gateway returned 503 Service Unavailable")
		return 40, true
	case "notfound":
		fmt.Fprintf(os.Stderr, "Error: failed to load image %s: MANIFEST_UNKNOWN: image not found\n", inv.target)
		return 6, true
	case "registry-auth":
		fmt.Fprintf(os.Stderr, "Error: failed to load image %s: unauthorized: authentication required\n", inv.target)
		return 6, true
	default:
		fmt.Fprintf(os.Stderr, "qscanner stand-in: unknown QSCANNER_STANDIN_MODE %q\n", mode)
		return 2, true
	}
	return 0, false
}

// wantedOutputs keeps the paths of the outputs the flags ask for and
// empties the others: a ScanResult for --format json, a SARIF report for
// --report-format sarif of a vulnerability scan that gets a report.
func (inv *invocation) wantedOutputs(srPath, sarifPath string) (string, string) {
	want := slices.Contains(inv.list("format", "json"), "json")
	wantSARIF := slices.Contains(inv.list("report-format", "table,sarif"), "sarif") &&
		(slices.Contains(inv.types, "os") || slices.Contains(inv.types, "sca"))
	switch inv.flags["mode"] {
	case "scan-only", "inventory-only":
		wantSARIF = false
	}
	if !want {
		srPath = ""
	}
	if !wantSARIF {
		sarifPath = ""
	}
	return srPath, sarifPath
}

// modeFor reads QSCANNER_STANDIN_MODE, either one mode or
// "default=<mode>,sha256:<hex>=<mode>,...".
func modeFor(digest string) string {
	v := strings.TrimSpace(os.Getenv("QSCANNER_STANDIN_MODE"))
	if !strings.Contains(v, "=") {
		if v == "" {
			return "ok"
		}
		return v
	}
	mode := "ok"
	for _, part := range strings.Split(v, ",") {
		k, m, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case digest:
			return m
		case "default":
			mode = m
		}
	}
	return mode
}

// hang starts a helper in the same process group and then sleeps until
// killed, so tests see whether the whole group dies.
func hang() {
	self, err := os.Executable()
	if err == nil {
		c := exec.Command(self)
		c.Env = append(os.Environ(), "QSCANNER_STANDIN_CHILD=1")
		c.Stdout, c.Stderr = os.Stdout, os.Stderr // hold the pipes open as a real helper would
		_ = c.Start()
	}
	for {
		time.Sleep(time.Hour)
	}
}

func child() {
	record(map[string]any{"child": true})
	for {
		time.Sleep(time.Hour)
	}
}
