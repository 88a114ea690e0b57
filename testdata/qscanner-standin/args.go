package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// What QScanner's command line accepts (QSCANNER.md).
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
)

// parse reads QScanner's command line and rejects what QScanner rejects.
func parse(args []string) (*invocation, error) {
	inv := &invocation{flags: map[string]string{}}
	pos, err := inv.readFlags(args)
	if err != nil {
		return nil, err
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
	if err := inv.checkScanOptions(); err != nil {
		return nil, err
	}
	return inv, nil
}

// readFlags records the flags in inv.flags and returns the positional
// arguments.
func (inv *invocation) readFlags(args []string) ([]string, error) {
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
	return pos, nil
}

// checkScanOptions checks the flags of a scan, in QScanner's order, and
// expands the scan types.
func (inv *invocation) checkScanOptions() error {
	f := inv.flags
	switch {
	case f["pod"] == "" && f["gateway-url"] == "":
		return fmt.Errorf("either --pod or --gateway-url is required")
	case f["pod"] != "" && !slices.Contains(pods, strings.ToUpper(f["pod"])):
		return fmt.Errorf("invalid --pod %q: want one of %s", f["pod"], strings.Join(pods, ", "))
	}
	if err := inv.readScanTypes(); err != nil {
		return err
	}
	if err := oneOf("mode", f["mode"], modes); err != nil {
		return err
	}
	if f["mode"] == "evaluate-policy" && f["policy-tags"] == "" {
		return fmt.Errorf("--mode evaluate-policy needs --policy-tags")
	}
	for _, v := range strings.Split(f["format"], ",") {
		if err := oneOf("format", v, formats); err != nil {
			return err
		}
	}
	for _, v := range strings.Split(f["report-format"], ",") {
		if err := oneOf("report-format", v, reports); err != nil {
			return err
		}
	}
	if err := oneOf("log-level", f["log-level"], levels); err != nil {
		return err
	}
	if err := oneOf("cache", f["cache"], []string{"local", "none"}); err != nil {
		return err
	}
	if v := f["scan-timeout"]; v != "" {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("invalid --scan-timeout %q", v)
		}
	}
	if v := f["platform"]; v != "" && !platRE.MatchString(v) {
		return fmt.Errorf("invalid --platform %q: want os/arch", v)
	}
	return nil
}

// readScanTypes expands --scan-types (default pkg, which is os and sca).
func (inv *invocation) readScanTypes() error {
	types := inv.flags["scan-types"]
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
			return fmt.Errorf("invalid --scan-types value %q", t)
		}
	}
	return nil
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
