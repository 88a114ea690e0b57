package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
)

// invalidPushError is an invalid push event: a one-line message over a cause
// that wraps domain.ErrInvalid (and the specific domain error, if any).
type invalidPushError struct {
	reason string
	cause  error
}

func (e *invalidPushError) Error() string { return "invalid ecr push event: " + e.reason }
func (e *invalidPushError) Unwrap() error { return e.cause }

func invalidPushf(format string, args ...any) error {
	return &invalidPushError{reason: pushOneLine(fmt.Sprintf(format, args...)), cause: domain.ErrInvalid}
}

// invalidPushErr wraps a validation error from domain, which already wraps
// domain.ErrInvalid but may span several lines (errors.Join).
func invalidPushErr(err error) error {
	return &invalidPushError{reason: pushOneLine(strings.ReplaceAll(err.Error(), "\n", "; ")), cause: err}
}

// invalidPushJSON turns a decoding error into a reason that names the field and
// the JSON types rather than Go's.
func invalidPushJSON(where string, err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr):
		field := where
		if typeErr.Field != "" {
			field = strings.TrimPrefix(where+"."+pushJSONPath(typeErr.Field), ".")
		}
		if field == "" {
			field = "event"
		}
		got := typeErr.Value
		if got == "bool" {
			got = "boolean"
		}
		return invalidPushf("%s: got JSON %s, want %s", field, got, pushJSONKind(typeErr.Type))
	case errors.As(err, &syntaxErr):
		return invalidPushf("not JSON: %v", syntaxErr)
	case errors.As(err, &timeErr):
		return invalidPushf("time: want an RFC 3339 timestamp")
	}
	if where == "" {
		where = "event"
	}
	return invalidPushf("%s: %v", where, err)
}

// pushEmbedded names the embedded structs of the decoded types, which
// encoding/json puts in an error's path although the event has no such level.
var pushEmbedded = map[string]bool{
	reflect.TypeFor[awsevents.ECRImageActionEventDetailType]().Name(): true,
	reflect.TypeFor[cloudTrailHead]().Name():                          true,
}

func pushJSONPath(field string) string {
	parts := strings.Split(field, ".")
	kept := parts[:0]
	for _, p := range parts {
		if !pushEmbedded[p] {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}

func pushJSONKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	}
	return t.String()
}

func skipPushf(format string, args ...any) error {
	return &SkipError{Reason: pushOneLine(fmt.Sprintf(format, args...))}
}

// pushMaxEcho bounds each piece of input quoted into a message, pushMaxReason the
// whole message, so a hostile event cannot flood a log line.
const (
	pushMaxEcho   = 64
	pushMaxReason = 400
)

// pushQuote bounds s and quotes it with Go escapes, so control characters and
// newlines in input appear escaped, never raw.
func pushQuote(s string) string {
	if len(s) <= pushMaxEcho {
		return strconv.Quote(s)
	}
	return strconv.Quote(pushTruncate(s, pushMaxEcho)) + "…"
}

// pushOneLine replaces control characters (newlines included) with spaces and
// bounds the length.
func pushOneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	if len(s) > pushMaxReason {
		return pushTruncate(s, pushMaxReason) + "…"
	}
	return s
}

// pushTruncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func pushTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
