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

// TestMessageShapes guards the plain-text fast path against the soft
// decoding it short-cuts.
func TestMessageShapes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want text
	}{
		{"plain text", `{"text": "Curl SOCKS5 overflow"}`, "Curl SOCKS5 overflow"},
		{"plain text with spaces", ` { "text" : " x " } `, "x"},
		{"text beside markdown", `{"text": "a", "markdown": "**a**"}`, "a"},
		{"markdown before text", `{"markdown": "**a**", "text": "a"}`, "a"},
		{"escaped text", `{"text": "say \"hi\""}`, `say "hi"`},
		{"key in another case", `{"Text": "a"}`, "a"},
		{"text a number", `{"text": 7}`, "7"},
		{"text an object", `{"text": {"a": 1}}`, ""},
		{"a string", `"a"`, ""},
		{"an array", `[{"text": "a"}]`, ""},
		{"null", `null`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m message
			if err := json.Unmarshal([]byte(tc.in), &m); err != nil {
				t.Fatal(err)
			}
			if m.Text != tc.want {
				t.Errorf("got %q, want %q", m.Text, tc.want)
			}
		})
	}
}
