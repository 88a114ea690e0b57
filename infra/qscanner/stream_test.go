package qscanner

import (
	"context"
	"strings"
	"testing"

	"ecrscanner/domain"
)

// TestStreamedSARIFReadsAsOneDocument guards the streaming decoder's
// agreement with a whole-document decode: key case, key order, nulls,
// truncation and trailing data.
func TestStreamedSARIFReadsAsOneDocument(t *testing.T) {
	const rules = `"tool": {"driver": {"version": "4.8", "rules": [{"id": "1", "properties": {"severity": 5}}]}}`
	tests := []struct {
		name     string
		in       string
		severity domain.Severity // of the one finding, when no error
		err      string
	}{
		{"results before the rules they name", `{"runs": [{"results": [{"ruleId": "1"}], ` + rules + `}]}`, domain.SeverityCritical, ""},
		{"keys in another case", `{"RUNS": [{"Results": [{"RuleId": "1"}], "TOOL": {"Driver": {"Rules": [{"ID": "1", "Properties": {"Severity": 4}}]}}}]}`, domain.SeverityHigh, ""},
		{"unknown keys of every shape skipped", `{"$schema": "x", "runs": [{"invocations": [{"a": [1, {"b": null}]}], "results": [{"ruleId": "1", "message": {"text": "m"}}], ` + rules + `, "artifacts": null}], "extra": 1.5}`, domain.SeverityCritical, ""},
		{"empty file", "", 0, "empty file"},
		{"whitespace only", " \n\t", 0, "empty file"},
		{"a second document", `{"runs": []} {}`, 0, "data after the document"},
		{"runs null", `{"runs": null}`, 0, `no "runs"`},
		{"runs empty", `{"runs": []}`, 0, `"runs" is empty`},
		{"run null", `{"runs": [null]}`, 0, `no "results"`},
		{"results null", `{"runs": [{"results": null}]}`, 0, `no "results"`},
		{"run a string", `{"runs": ["run"]}`, 0, "unexpected JSON string for runs"},
		{"document an array", `[{"runs": []}]`, 0, "unexpected JSON array for document"},
		{"result of the wrong type", `{"runs": [{"results": [7]}]}`, 0, "unexpected JSON number"},
		{"truncated inside the results", `{"runs": [{"results": [{"ruleId": "1"}, {"rule`, 0, "truncated JSON"},
		{"truncated between keys", `{"runs": [{"results": [], `, 0, "truncated JSON"},
		{"not JSON", `<html>502</html>`, 0, "not valid JSON at byte"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := decodeSARIF(context.Background(), strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(out.vulnerabilities) != 1 || out.vulnerabilities[0].Severity != tc.severity {
				t.Errorf("findings = %+v, want one %s", out.vulnerabilities, tc.severity)
			}
		})
	}
}
