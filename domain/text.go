package domain

import "unicode/utf8"

// Ellipsis is the mark Truncate callers put where text was cut.
const Ellipsis = "…"

// Truncate fits s into limit bytes without splitting a UTF-8 sequence, so
// that what is kept stays valid wherever it is stored or shown (an ECR tag,
// an SNS subject, an ASFF title, an error message). A string that fits is
// returned as it is. Otherwise the result is the longest prefix of s that ends
// on a character boundary and leaves room for mark, followed by mark: at most
// limit bytes in all. When limit cannot hold mark, the prefix alone is
// returned. Limits are in bytes because the services count bytes; a caller
// whose limit counts characters of ASCII-only text may pass it unchanged.
func Truncate(s string, limit int, mark string) string {
	if len(s) <= limit {
		return s
	}
	if limit < len(mark) {
		mark = ""
	}
	n := max(limit-len(mark), 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}
