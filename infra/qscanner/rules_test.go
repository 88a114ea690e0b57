package qscanner

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"ecrscanner/domain"
)

// writeOutput writes a QScanner output directory holding a minimal
// ScanResult.json and a SARIF log with one run of the given rules and
// results, and returns the directory.
func writeOutput(t testing.TB, rules, results []map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sr := `{"SchemaVersion": 2, "QScannerVersion": "4.8.0-2", "ScansPerformed": [{"ScanType": "os"}]}`
	sarif, err := json.Marshal(map[string]any{
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "QScanner", "rules": rules}},
			"results": results,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{id + scanResultSuffix: []byte(sr), id + sarifSuffix: sarif} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func rule(id string, props map[string]any) map[string]any {
	return map[string]any{"id": id, "shortDescription": map[string]any{"text": "rule " + id}, "properties": props}
}

func cvss(score float64) map[string]any {
	return map[string]any{"v3": map[string]any{"baseScore": score}}
}

type duplicateRuleCase struct {
	name      string
	rules     []map[string]any
	results   []map[string]any
	severity  domain.Severity
	cvss      float64
	cves      []string
	conflicts []conflict
}

func duplicateRuleCases() []duplicateRuleCase {
	critical := map[string]any{"severity": 5, "cve-ids": []string{"CVE-2023-38545"}, "cvssInfo": cvss(9.8)}
	minimal := map[string]any{"severity": 1, "cve-ids": []string{"CVE-2023-0001"}}
	byID := []map[string]any{{"ruleId": "379132", "properties": map[string]any{"QID": 379132}}}
	return []duplicateRuleCase{
		{
			name:     "critical first, severity 1 duplicate last",
			rules:    []map[string]any{rule("379132", critical), rule("379132", minimal)},
			results:  byID,
			severity: domain.SeverityCritical, cvss: 9.8, cves: []string{"CVE-2023-38545", "CVE-2023-0001"},
			conflicts: []conflict{
				{RuleID: "379132", Field: "severity", Kept: "CRITICAL", Dropped: "INFORMATIONAL"},
				{RuleID: "379132", Field: "cvss3", Kept: "9.8", Dropped: "none"},
			},
		},
		{
			name:     "severity 1 first, critical duplicate last",
			rules:    []map[string]any{rule("379132", minimal), rule("379132", critical)},
			results:  byID,
			severity: domain.SeverityCritical, cvss: 9.8, cves: []string{"CVE-2023-0001", "CVE-2023-38545"},
			conflicts: []conflict{
				{RuleID: "379132", Field: "severity", Kept: "CRITICAL", Dropped: "INFORMATIONAL"},
				{RuleID: "379132", Field: "cvss3", Kept: "9.8", Dropped: "none"},
			},
		},
		{
			name: "a customer severity outranks a lower Qualys severity of the copy",
			rules: []map[string]any{rule("379132", map[string]any{"customerSeverity": 4}),
				rule("379132", map[string]any{"severity": 2, "cvssInfo": cvss(4.3)})},
			results:  byID,
			severity: domain.SeverityHigh, cvss: 4.3,
			conflicts: []conflict{
				{RuleID: "379132", Field: "severity", Kept: "HIGH", Dropped: "LOW"},
				{RuleID: "379132", Field: "cvss3", Kept: "4.3", Dropped: "none"},
			},
		},
		{
			name:     "an unreadable severity does not replace a known one",
			rules:    []map[string]any{rule("379132", map[string]any{"severity": 4, "cvssInfo": cvss(7.5)}), rule("379132", map[string]any{"severity": "n/a", "cvssInfo": cvss(7.5)})},
			results:  byID,
			severity: domain.SeverityHigh, cvss: 7.5,
			conflicts: []conflict{{RuleID: "379132", Field: "severity", Kept: "HIGH", Dropped: "UNKNOWN"}},
		},
		{
			name:     "identical duplicates are no conflict",
			rules:    []map[string]any{rule("379132", critical), rule("379132", critical)},
			results:  byID,
			severity: domain.SeverityCritical, cvss: 9.8, cves: []string{"CVE-2023-38545"},
		},
		{
			name:     "a result naming the weaker copy by index gets the merge",
			rules:    []map[string]any{rule("379132", critical), rule("379132", minimal)},
			results:  []map[string]any{{"ruleIndex": 1, "properties": map[string]any{"QID": 379132}}},
			severity: domain.SeverityCritical, cvss: 9.8, cves: []string{"CVE-2023-38545", "CVE-2023-0001"},
			conflicts: []conflict{
				{RuleID: "379132", Field: "severity", Kept: "CRITICAL", Dropped: "INFORMATIONAL"},
				{RuleID: "379132", Field: "cvss3", Kept: "9.8", Dropped: "none"},
			},
		},
	}
}

func TestDuplicateRuleWorseSeverityWins(t *testing.T) {
	for _, tc := range duplicateRuleCases() {
		t.Run(tc.name, func(t *testing.T) {
			rep, conflicts, err := parseOutput(context.Background(), writeOutput(t, tc.rules, tc.results), parseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Vulnerabilities) != 1 {
				t.Fatalf("%d findings, want 1: %+v", len(rep.Vulnerabilities), rep.Vulnerabilities)
			}
			v := rep.Vulnerabilities[0]
			if v.Severity != tc.severity || v.CVSS3 != tc.cvss || !slices.Equal(v.CVEs, tc.cves) {
				t.Errorf("finding = %s CVSS %v %q, want %s CVSS %v %q", v.Severity, v.CVSS3, v.CVEs, tc.severity, tc.cvss, tc.cves)
			}
			if !slices.Equal(conflicts, tc.conflicts) {
				t.Errorf("conflicts = %+v, want %+v", conflicts, tc.conflicts)
			}
			alert := domain.DefaultAlertPolicy.Evaluate(domain.Summarize(rep)).Alert
			if want := tc.severity >= domain.SeverityHigh; alert != want {
				t.Errorf("alert = %v, want %v", alert, want)
			}
		})
	}
}

// TestRunnerLogsConflicts: the runner's parse logs each disagreement with
// stable keys, so an operator can see which copy of a rule was dropped.
func TestRunnerLogsConflicts(t *testing.T) {
	tc := duplicateRuleCases()[0]
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	r := &Runner{}
	if _, err := r.parse(context.Background(), log, writeOutput(t, tc.rules, tc.results), parseOptions{}); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.SplitN(buf.Bytes(), []byte("\n"), 2)[0], &line); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	c := tc.conflicts[0]
	want := map[string]any{"msg": "qscanner output conflict", "rule_id": c.RuleID, "field": c.Field, "kept": c.Kept, "dropped": c.Dropped}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v (line %s)", k, line[k], v, buf.String())
		}
	}
}

// TestCVSSShapesDegradeToNoScore guards cvssInfo's single soft: any v3 of the
// wrong shape reads as no score, never as an error.
func TestCVSSShapesDegradeToNoScore(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		score float64
		ok    bool
	}{
		{"number", `{"v3": {"baseScore": 9.8}}`, 9.8, true},
		{"string", `{"v3": {"baseScore": "7.5"}}`, 7.5, true},
		{"v3 a number", `{"v3": 7.5}`, 0, false},
		{"v3 null", `{"v3": null}`, 0, false},
		{"cvssInfo a string", `"9.8"`, 0, false},
		{"out of range", `{"v3": {"baseScore": 11}}`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p ruleProperties
			if err := json.Unmarshal([]byte(`{"cvssInfo": `+tc.in+`}`), &p); err != nil {
				t.Fatal(err)
			}
			if score, ok := cvss3(p); score != tc.score || ok != tc.ok {
				t.Errorf("cvss3 = %v, %v; want %v, %v", score, ok, tc.score, tc.ok)
			}
		})
	}
}
