package qscanner

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"ecrscanner/domain"
)

// QScanner's JSON key names and value types are not published (QSCANNER.md),
// so leaf values are read by these lenient types: a value of an unexpected
// type degrades to "unknown" instead of failing the whole report. Structure
// that counting depends on (runs, results, secret lists) is decoded strictly,
// so that a malformed file is an error rather than a silent zero.

// text reads any JSON scalar as a string; null, objects and arrays read as "".
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		*t = ""
		return nil
	}
	switch b[0] {
	case '"':
		// Most values carry no escapes: take them as they are rather than
		// paying for a second decoder per string.
		if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			*t = text(strings.TrimSpace(string(inner)))
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(strings.TrimSpace(s))
	case '{', '[', 'n':
		*t = ""
	default: // a number, true or false: keep the literal
		*t = text(b)
	}
	return nil
}

func (t text) String() string { return string(t) }

// integer reads the text as a whole number: 7, 7.0 and "7" are all 7.
func (t text) integer() (int, bool) {
	f, err := strconv.ParseFloat(string(t), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// identifier normalizes an ID that may arrive as a number or a string, so
// that 376001, 376001.0 and "376001" are the same QID.
func (t text) identifier() string {
	if n, ok := t.integer(); ok {
		return strconv.Itoa(n)
	}
	return string(t)
}

// textList reads an array of scalars, or a single scalar as a one-element
// list. Empty elements are dropped; anything else reads as an empty list.
type textList []string

func (l *textList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*l = nil
	if one, ok := oneString(b); ok {
		if one != "" {
			*l = textList{one}
		}
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var items []text
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		for _, it := range items {
			if it != "" {
				*l = append(*l, string(it))
			}
		}
		return nil
	}
	var one text
	if err := one.UnmarshalJSON(b); err != nil {
		return err
	}
	if one != "" {
		*l = textList{string(one)}
	}
	return nil
}

// oneString reads the commonest list, one plain string (["CVE-2023-38545"]),
// without a second decoder; ok is false for anything else.
func oneString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return "", false
	}
	return plainString(bytes.TrimSpace(b[1 : len(b)-1]))
}

// message reads a SARIF message object ({"text": "…"}) for its text; a value
// of another shape reads as "". The commonest shape, one plain "text", is
// read without a second decoder; anything else goes through soft.
type message struct{ Text text }

func (m *message) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}' {
		in := bytes.TrimSpace(b[1 : len(b)-1])
		if rest, ok := bytes.CutPrefix(in, []byte(`"text"`)); ok {
			if rest = bytes.TrimSpace(rest); len(rest) > 0 && rest[0] == ':' {
				if t, ok := plainString(bytes.TrimSpace(rest[1:])); ok {
					m.Text = text(t)
					return nil
				}
			}
		}
	}
	var s soft[struct {
		Text text `json:"text"`
	}]
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	m.Text = s.V.Text
	return nil
}

// plainString reads a JSON string without escapes, trimmed as text trims it;
// ok is false for anything else, including more than one string.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	if bytes.IndexByte(in, '"') >= 0 || bytes.IndexByte(in, '\\') >= 0 || !utf8.Valid(in) {
		return "", false
	}
	return strings.TrimSpace(string(in)), true
}

// soft decodes a small nested object whose shape is not guaranteed: a value
// of the wrong JSON type leaves the zero value (unknown) instead of an error.
// It decodes its bytes a second time, so it is kept off the large arrays
// (rules, results), whose shape is part of what makes a report countable.
type soft[T any] struct{ V T }

func (s *soft[T]) UnmarshalJSON(b []byte) error {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil
		}
		return err
	}
	s.V = v
	return nil
}

// qualysSeverity interprets a severity value. Qualys levels 1–5 map through
// domain.SeverityFromQualys; a severity word ("HIGH") is accepted as such;
// anything else, including a missing value, is UNKNOWN, never LOW.
func qualysSeverity(t text) (domain.Severity, int) {
	if t == "" {
		return domain.SeverityUnknown, 0
	}
	if n, ok := t.integer(); ok {
		s := domain.SeverityFromQualys(n)
		if s == domain.SeverityUnknown {
			return s, 0
		}
		return s, n
	}
	s, err := domain.ParseSeverity(string(t))
	if err != nil {
		return domain.SeverityUnknown, 0
	}
	return s, 0
}

// wordSeverity interprets a severity word; an unknown or missing word is
// UNKNOWN.
func wordSeverity(t text) domain.Severity {
	s, err := domain.ParseSeverity(string(t))
	if err != nil {
		return domain.SeverityUnknown
	}
	return s
}
