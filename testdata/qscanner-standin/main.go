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
//	QSCANNER_STANDIN_SLEEP     how long mode slow sleeps (default 2s).
//	QSCANNER_STANDIN_RECORD    a file to which each invocation appends one JSON
//	                           line: argv, has_token_env, home, tmpdir, pid
//	                           (never the token).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	version = "0.0.0-standin"
	banner  = "qscanner stand-in: a test tool, not Qualys QScanner"
)

var (
	valueFlags = map[string]bool{
		"pod": true, "gateway-url": true, "access-token": true, "scan-types": true, "mode": true,
		"policy-tags": true, "output-dir": true, "format": true, "report-format": true, "cache-dir": true,
		"cache": true, "scan-timeout": true, "max-network-retries": true, "proxy": true, "cert-path": true,
		"log-level": true, "platform": true, "registry-username": true, "registry-password": true,
		"registry-token": true,
	}
	boolFlags = map[string]bool{"quiet": true, "skip-verify-tls": true}
	pods      = []string{"US1", "US2", "US3", "US4", "EU1", "EU2", "EU3", "IN1", "CA1", "AE1", "UK1", "AU1", "KSA1"}
	scanTypes = []string{"os", "sca", "secret", "malware", "fileinsight", "compliance", "manifest", "winregistry"}
	modes     = []string{"get-report", "scan-only", "inventory-only", "evaluate-policy"}
	formats   = []string{"json", "spdx", "cyclonedx", "table"}
	reports   = []string{"table", "sarif", "json", "gitlab"}
	levels    = []string{"debug", "info", "warn", "error", "fatal"}
	platRE    = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$`)
	digestRE  = regexp.MustCompile(`sha256:[a-f0-9]{64}`)
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

func parse(args []string) (*invocation, error) {
	inv := &invocation{flags: map[string]string{}}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case boolFlags[name]:
			inv.flags[name] = "true"
		case valueFlags[name]:
			if !hasVal {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("flag needs an argument: --%s", name)
				}
				i++
				val = args[i]
			}
			inv.flags[name] = val
		default:
			return nil, fmt.Errorf("unknown flag: --%s", name)
		}
	}
	if len(pos) == 0 {
		return nil, fmt.Errorf("no command given (image, tar, ...)")
	}
	inv.command = pos[0]
	switch inv.command {
	case "configure", "clear-local-cache", "show-scanner-version-hash", "show-scan-metadata":
		return inv, nil
	case "image", "tar":
		if len(pos) != 2 {
			return nil, fmt.Errorf("%s takes exactly one target, got %d", inv.command, len(pos)-1)
		}
		inv.target = pos[1]
	default:
		return nil, fmt.Errorf("unknown command %q", inv.command)
	}
	f := inv.flags
	switch {
	case f["pod"] == "" && f["gateway-url"] == "":
		return nil, fmt.Errorf("either --pod or --gateway-url is required")
	case f["pod"] != "" && !slices.Contains(pods, strings.ToUpper(f["pod"])):
		return nil, fmt.Errorf("invalid --pod %q: want one of %s", f["pod"], strings.Join(pods, ", "))
	}
	types := f["scan-types"]
	if types == "" {
		types = "pkg"
	}
	for _, t := range strings.Split(types, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "pkg":
			inv.addType("os")
			inv.addType("sca")
		case slices.Contains(scanTypes, t):
			inv.addType(t)
		default:
			return nil, fmt.Errorf("invalid --scan-types value %q", t)
		}
	}
	if err := oneOf("mode", f["mode"], modes); err != nil {
		return nil, err
	}
	if f["mode"] == "evaluate-policy" && f["policy-tags"] == "" {
		return nil, fmt.Errorf("--mode evaluate-policy needs --policy-tags")
	}
	for _, v := range strings.Split(f["format"], ",") {
		if err := oneOf("format", v, formats); err != nil {
			return nil, err
		}
	}
	for _, v := range strings.Split(f["report-format"], ",") {
		if err := oneOf("report-format", v, reports); err != nil {
			return nil, err
		}
	}
	if err := oneOf("log-level", f["log-level"], levels); err != nil {
		return nil, err
	}
	if err := oneOf("cache", f["cache"], []string{"local", "none"}); err != nil {
		return nil, err
	}
	if v := f["scan-timeout"]; v != "" {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return nil, fmt.Errorf("invalid --scan-timeout %q", v)
		}
	}
	if v := f["platform"]; v != "" && !platRE.MatchString(v) {
		return nil, fmt.Errorf("invalid --platform %q: want os/arch", v)
	}
	return inv, nil
}

func (inv *invocation) addType(t string) {
	if !slices.Contains(inv.types, t) {
		inv.types = append(inv.types, t)
	}
}

func oneOf(flag, v string, allowed []string) error {
	if v == "" || slices.Contains(allowed, strings.TrimSpace(v)) {
		return nil
	}
	return fmt.Errorf("invalid --%s %q: want one of %s", flag, v, strings.Join(allowed, ", "))
}

// list reads a comma-separated flag, falling back to QScanner's default.
func (inv *invocation) list(flag, def string) []string {
	v := inv.flags[flag]
	if v == "" {
		v = def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

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
		return 0
	case "exit40":
		if err := writeOutputs(inv, digest, srPath, ""); err != nil {
			return 30
		}
		fmt.Fprintln(os.Stderr, "Error: failed to get the vulnerability report: gateway returned 503 Service Unavailable")
		return 40
	case "notfound":
		fmt.Fprintf(os.Stderr, "Error: failed to load image %s: MANIFEST_UNKNOWN: image not found\n", inv.target)
		return 6
	case "registry-auth":
		fmt.Fprintf(os.Stderr, "Error: failed to load image %s: unauthorized: authentication required\n", inv.target)
		return 6
	default:
		fmt.Fprintf(os.Stderr, "qscanner stand-in: unknown QSCANNER_STANDIN_MODE %q\n", mode)
		return 2
	}
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

// record appends one line per invocation. O_APPEND with a single write keeps
// concurrent invocations' lines whole and countable. The token is never
// written, only whether it was present.
func record(extra map[string]any) {
	path := os.Getenv("QSCANNER_STANDIN_RECORD")
	if path == "" {
		return
	}
	line := map[string]any{
		"argv":          os.Args[1:],
		"has_token_env": os.Getenv("QUALYS_ACCESS_TOKEN") != "",
		"home":          os.Getenv("HOME"),
		"tmpdir":        os.Getenv("TMPDIR"),
		"xdg_config":    os.Getenv("XDG_CONFIG_HOME"),
		"banner_off":    os.Getenv("DISABLE_QSCANNER_BANNER") == "yes",
		"pid":           os.Getpid(),
	}
	for k, v := range extra {
		line[k] = v
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "qscanner stand-in: record: %v\n", err)
		return
	}
	_, _ = f.Write(append(b, '\n'))
	_ = f.Close()
}

// writeOutputs writes the files whose paths are not empty.
func writeOutputs(inv *invocation, digest, srPath, sarifPath string) error {
	var sr, sarif []byte
	var err error
	if dir := os.Getenv("QSCANNER_STANDIN_FIXTURE"); dir != "" {
		sr, sarif, err = fromFixture(dir, inv, digest)
	} else {
		n := 5
		if v := os.Getenv("QSCANNER_STANDIN_FINDINGS"); v != "" {
			if n, err = strconv.Atoi(v); err != nil || n < 0 {
				err = fmt.Errorf("QSCANNER_STANDIN_FINDINGS=%q: want a count", v)
			}
		}
		if err == nil {
			sr, sarif, err = generate(inv, digest, n)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "qscanner stand-in: %v\n", err)
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{srPath, sr}, {sarifPath, sarif}} {
		if f.path == "" || f.data == nil {
			continue
		}
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "Error: write output: %v\n", err)
			return err
		}
	}
	return nil
}

// fromFixture copies a fixture's files, adjusted to this scan where they are
// JSON objects; anything else (a hostile fixture) is copied unchanged.
func fromFixture(dir string, inv *invocation, digest string) (sr, sarif []byte, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("fixture: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), "-ScanResult.json"):
			if sr, err = os.ReadFile(path); err != nil {
				return nil, nil, err
			}
			sr = adjust(sr, func(m map[string]any) {
				m["QScannerVersion"] = version
				m["ScansPerformed"] = performed(inv.types)
				if !slices.Contains(inv.types, "secret") {
					delete(m, "SecretResults")
				}
			})
		case strings.HasSuffix(e.Name(), "-Report.sarif.json"):
			if sarif, err = os.ReadFile(path); err != nil {
				return nil, nil, err
			}
			sarif = adjust(sarif, func(m map[string]any) {
				runs, _ := m["runs"].([]any)
				for _, r := range runs {
					run, ok := r.(map[string]any)
					if !ok {
						continue
					}
					props, ok := run["properties"].(map[string]any)
					if !ok {
						props = map[string]any{}
						run["properties"] = props
					}
					props["imageDigest"] = digest
					if tool, ok := run["tool"].(map[string]any); ok {
						if drv, ok := tool["driver"].(map[string]any); ok {
							drv["version"] = version
						}
					}
				}
			})
		}
	}
	return sr, sarif, nil
}

func adjust(b []byte, fn func(map[string]any)) []byte {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return b
	}
	fn(m)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return b
	}
	return out
}

func performed(types []string) []map[string]string {
	out := make([]map[string]string, 0, len(types))
	for _, t := range types {
		out = append(out, map[string]string{"ScanType": t, "ScanDuration": "0.01s", "Status": "Success"})
	}
	return out
}

// generate builds n findings: finding i has Qualys level i%5+1 and a fixed
// version when i is even, so counts are predictable.
func generate(inv *invocation, digest string, n int) (sr, sarif []byte, err error) {
	type software struct {
		Name             string `json:"name"`
		InstalledVersion string `json:"installedVersion"`
		FixedVersion     string `json:"fixedVersion,omitempty"`
		LayerSHA         string `json:"layerSHA"`
		Path             string `json:"path"`
	}
	type rule struct {
		ID               string            `json:"id"`
		Name             string            `json:"name"`
		ShortDescription map[string]string `json:"shortDescription"`
		Properties       map[string]any    `json:"properties"`
	}
	type result struct {
		RuleID     string            `json:"ruleId"`
		RuleIndex  int               `json:"ruleIndex"`
		Level      string            `json:"level"`
		Message    map[string]string `json:"message"`
		Properties map[string]any    `json:"properties"`
	}
	layer := "sha256:" + strings.Repeat("ab", 32)
	rules := make([]rule, 0, n)
	results := make([]result, 0, n)
	for i := range n {
		qid := strconv.Itoa(100000 + i)
		level := i%5 + 1
		sw := software{Name: fmt.Sprintf("pkg-%d", i), InstalledVersion: "1.0." + strconv.Itoa(i), LayerSHA: layer, Path: "var/lib/dpkg/status"}
		if i%2 == 0 {
			sw.FixedVersion = "1.1." + strconv.Itoa(i)
		}
		rules = append(rules, rule{
			ID:               qid,
			Name:             "Synthetic vulnerability " + qid,
			ShortDescription: map[string]string{"text": "Synthetic vulnerability " + qid + " (stand-in)"},
			Properties: map[string]any{
				"severity": level, "customerSeverity": level, "category": "Stand-in",
				"cve-ids":  []string{fmt.Sprintf("CVE-2099-%05d", i)},
				"cvssInfo": map[string]any{"v3": map[string]any{"baseScore": float64(level*2) - 0.5}},
			},
		})
		results = append(results, result{
			RuleID: qid, RuleIndex: i, Level: "warning",
			Message:    map[string]string{"text": sw.Name + " is vulnerable"},
			Properties: map[string]any{"QID": 100000 + i, "vulnerableSoftware": []software{sw}},
		})
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "QScanner stand-in", "version": version, "rules": rules}},
			"results": results,
			"properties": map[string]any{
				"imageID": "sha256:" + strings.Repeat("cd", 32), "imageDigest": digest,
				"os": "Stand-in Linux 1.0", "repoTags": []string{},
			},
		}},
	}
	if sarif, err = json.Marshal(log); err != nil {
		return nil, nil, err
	}
	scanResult := map[string]any{
		"SchemaVersion":   2,
		"QScannerVersion": version,
		"ScansPerformed":  performed(inv.types),
		"Metadata": map[string]any{
			"OS":          map[string]string{"Family": "standin", "Name": "1.0"},
			"ImageConfig": map[string]string{"os": "linux", "architecture": "amd64"},
		},
	}
	if slices.Contains(inv.types, "secret") {
		scanResult["SecretResults"] = []any{map[string]any{
			"Target": "app/.env",
			"Secrets": []any{map[string]any{
				"RuleID": "aws-access-key-id", "Category": "AWS", "Severity": "CRITICAL",
				"Title": "AWS Access Key ID", "StartLine": 3, "EndLine": 3,
				"Match": "AWS_ACCESS_KEY_ID=AKIAZQ3EXAMPLEFAKE42",
				"Layer": map[string]string{"DiffID": layer},
			}},
		}}
	}
	if sr, err = json.Marshal(scanResult); err != nil {
		return nil, nil, err
	}
	return sr, sarif, nil
}
