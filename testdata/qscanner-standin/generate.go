package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The generated SARIF report's parts.
type (
	software struct {
		Name             string `json:"name"`
		InstalledVersion string `json:"installedVersion"`
		FixedVersion     string `json:"fixedVersion,omitempty"`
		LayerSHA         string `json:"layerSHA"`
		Path             string `json:"path"`
	}
	rule struct {
		ID               string            `json:"id"`
		Name             string            `json:"name"`
		ShortDescription map[string]string `json:"shortDescription"`
		Properties       map[string]any    `json:"properties"`
	}
	result struct {
		RuleID     string            `json:"ruleId"`
		RuleIndex  int               `json:"ruleIndex"`
		Level      string            `json:"level"`
		Message    map[string]string `json:"message"`
		Properties map[string]any    `json:"properties"`
	}
)

// generatedLayer is the layer every generated finding is in.
var generatedLayer = "sha256:" + strings.Repeat("ab", 32)

// generate builds findings from to to-1: finding i has Qualys level i%5+1
// and a fixed version when i is even, so counts are predictable.
func generate(inv *invocation, digest string, from, to int) (sr, sarif []byte, err error) {
	rules := make([]rule, 0, to-from)
	results := make([]result, 0, to-from)
	for i := from; i < to; i++ {
		ru, re := finding(i)
		re.RuleIndex = len(rules) // the index into this run's rules
		rules = append(rules, ru)
		results = append(results, re)
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
	if sr, err = json.Marshal(scanResult(inv)); err != nil {
		return nil, nil, err
	}
	return sr, sarif, nil
}

// finding is generated finding i: its rule and its result.
func finding(i int) (rule, result) {
	qid := strconv.Itoa(100000 + i)
	level := i%5 + 1
	sw := software{Name: fmt.Sprintf("pkg-%d", i), InstalledVersion: "1.0." + strconv.Itoa(i), LayerSHA: generatedLayer, Path: "var/lib/dpkg/status"}
	if i%2 == 0 {
		sw.FixedVersion = "1.1." + strconv.Itoa(i)
	}
	ru := rule{
		ID:               qid,
		Name:             "Synthetic vulnerability " + qid,
		ShortDescription: map[string]string{"text": "Synthetic vulnerability " + qid + " (stand-in)"},
		Properties: map[string]any{
			"severity": level, "customerSeverity": level, "category": "Stand-in",
			"cve-ids":  []string{fmt.Sprintf("CVE-2099-%05d", i)},
			"cvssInfo": map[string]any{"v3": map[string]any{"baseScore": float64(level*2) - 0.5}},
		},
	}
	re := result{
		RuleID: qid, RuleIndex: i, Level: "warning",
		Message:    map[string]string{"text": sw.Name + " is vulnerable"},
		Properties: map[string]any{"QID": 100000 + i, "vulnerableSoftware": []software{sw}},
	}
	return ru, re
}

// scanResult is the generated ScanResult: the scans performed, an image's
// metadata and, when secrets were scanned for, one secret.
func scanResult(inv *invocation) map[string]any {
	sr := map[string]any{
		"SchemaVersion":   2,
		"QScannerVersion": version,
		"ScansPerformed":  performed(inv.types),
		"Metadata": map[string]any{
			"OS":          map[string]string{"Family": "standin", "Name": "1.0"},
			"ImageConfig": map[string]string{"os": "linux", "architecture": "amd64"},
		},
	}
	if slices.Contains(inv.types, "secret") {
		sr["SecretResults"] = []any{map[string]any{
			"Target": "app/.env",
			"Secrets": []any{map[string]any{
				"RuleID": "aws-access-key-id", "Category": "AWS", "Severity": "CRITICAL",
				"Title": "AWS Access Key ID", "StartLine": 3, "EndLine": 3,
				"Match": "AWS_ACCESS_KEY_ID=AKIAZQ3EXAMPLEFAKE42",
				"Layer": map[string]string{"DiffID": generatedLayer},
			}},
		}}
	}
	return sr
}
