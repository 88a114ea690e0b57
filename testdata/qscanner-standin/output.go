package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

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
		from, to := 0, n
		if err == nil {
			from, to, err = varyRange(digest, n)
		}
		if err == nil {
			sr, sarif, err = generate(inv, digest, from, to)
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
