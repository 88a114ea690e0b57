package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"ecrscanner/domain"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		mark  string
		want  string
	}{
		{name: "fits", in: "team/app", limit: 8, mark: domain.Ellipsis, want: "team/app"},
		{name: "empty", in: "", limit: 0, mark: domain.Ellipsis, want: ""},
		{name: "ASCII cut with mark inside the limit", in: strings.Repeat("a", 10), limit: 5, mark: domain.Ellipsis, want: "aa…"},
		{name: "ASCII cut without mark", in: "abcdef", limit: 4, mark: "", want: "abcd"},
		{name: "ASCII mark", in: strings.Repeat("x", 120), limit: 10, mark: "...", want: "xxxxxxx..."},
		{name: "two-byte runes not split", in: "ééééé", limit: 7, mark: domain.Ellipsis, want: "éé…"},
		{name: "two-byte runes, odd limit", in: "ééé", limit: 5, mark: "", want: "éé"},
		{name: "three-byte runes not split", in: "€€€€", limit: 8, mark: "", want: "€€"},
		{name: "four-byte runes not split", in: "😀😀😀", limit: 7, mark: "", want: "😀"},
		{name: "four-byte rune cannot fit", in: "😀", limit: 3, mark: "", want: ""},
		{name: "mixed widths", in: "aé€😀b", limit: 9, mark: "", want: "aé€"},
		{name: "limit too small for the mark", in: "abcdef", limit: 2, mark: domain.Ellipsis, want: "ab"},
		{name: "zero limit", in: "abc", limit: 0, mark: domain.Ellipsis, want: ""},
		{name: "invalid UTF-8 kept before the cut", in: "a\xffbcdef", limit: 4, mark: "", want: "a\xffbc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := domain.Truncate(tc.in, tc.limit, tc.mark)
			if got != tc.want {
				t.Errorf("Truncate(%q, %d, %q) = %q, want %q", tc.in, tc.limit, tc.mark, got, tc.want)
			}
			if len(got) > max(tc.limit, 0) {
				t.Errorf("Truncate(%q, %d, %q) = %q: %d bytes, over the limit", tc.in, tc.limit, tc.mark, got, len(got))
			}
			if utf8.ValidString(tc.in) && !utf8.ValidString(got) {
				t.Errorf("Truncate(%q, %d, %q) = %q: not valid UTF-8", tc.in, tc.limit, tc.mark, got)
			}
		})
	}
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "abc", "ééé", "€😀a", "a\xff\xfeb"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = max(limit%300, 0)
		got := domain.Truncate(s, limit, domain.Ellipsis)
		if len(got) > limit {
			t.Fatalf("Truncate(%q, %d) = %q: over the limit", s, limit, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q: split a character", s, limit, got)
		}
		if len(s) <= limit && got != s {
			t.Fatalf("Truncate(%q, %d) = %q: changed text that fits", s, limit, got)
		}
	})
}
