package qscanner

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestTextListShapes guards the one-string fast path against the general
// decoding it short-cuts.
func TestTextListShapes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want textList
	}{
		{"one string", `["CVE-2023-38545"]`, textList{"CVE-2023-38545"}},
		{"one string with spaces", ` [ " CVE-1 " ] `, textList{"CVE-1"}},
		{"two strings", `["CVE-1", "CVE-2"]`, textList{"CVE-1", "CVE-2"}},
		{"a comma inside one string", `["a, b"]`, textList{"a, b"}},
		{"an escaped string", `["a\"b"]`, textList{`a"b`}},
		{"one empty string", `[""]`, nil},
		{"empty", `[]`, nil},
		{"a number", `[7]`, textList{"7"}},
		{"a bare string", `"CVE-1"`, textList{"CVE-1"}},
		{"an object", `{"a": "b"}`, nil},
		{"null", `null`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l textList
			if err := json.Unmarshal([]byte(tc.in), &l); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l, tc.want) {
				t.Errorf("got %q, want %q", l, tc.want)
			}
		})
	}
}
