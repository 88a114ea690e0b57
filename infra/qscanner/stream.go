package qscanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jsonStream decodes one JSON document a piece at a time: the outer objects
// and arrays token by token, each element of a large array (rules, results,
// secrets) by one Decode. So the parse stops at the deadline between
// elements as well as between reads, and memory holds one element's bytes
// rather than the whole file. Keys match case-insensitively, as
// encoding/json matches struct fields.
//
// For SARIF it is the reference and the fallback of the one-pass fast path
// (fastsarif.go): every SARIF error, and every input the fast path is not
// sure to read the same way, is read here.
type jsonStream struct {
	ctx context.Context
	dec *json.Decoder
}

func newJSONStream(ctx context.Context, r io.Reader) *jsonStream {
	return &jsonStream{ctx: ctx, dec: json.NewDecoder(r)}
}

// document reads the whole input as one value with root. Empty input and
// anything after the value are errors; JSON errors are described by
// describeJSONError, others (the deadline, the size cap, I/O) are returned
// as they are.
func (s *jsonStream) document(root func() error) error {
	if !s.dec.More() {
		switch _, err := s.dec.Token(); {
		case err == io.EOF:
			return errors.New("empty file")
		case err != nil:
			return s.describe(err)
		}
	}
	if err := root(); err != nil {
		return s.describe(err)
	}
	switch _, err := s.dec.Token(); {
	case err == nil:
		return fmt.Errorf("not valid JSON at byte %d: data after the document", s.dec.InputOffset())
	case err != io.EOF:
		return s.describe(err)
	}
	return nil
}

// object reads an object, calling field with each key; field must consume
// the value. It reports a null; any other value is an error naming what.
func (s *jsonStream) object(what string, field func(key string) error) (null bool, err error) {
	if null, err := s.open(json.Delim('{'), what); null || err != nil {
		return null, err
	}
	for s.dec.More() {
		tok, err := s.dec.Token()
		if err != nil {
			return false, eof(err)
		}
		key, _ := tok.(string) // the decoder allows nothing else as a key
		if err := field(key); err != nil {
			return false, err
		}
	}
	_, err = s.dec.Token()
	return false, eof(err)
}

// array reads an array, calling elem for each element, which elem must
// consume; the deadline is checked before each. It reports a null; any other
// value is an error naming what.
func (s *jsonStream) array(what string, elem func() error) (null bool, err error) {
	if null, err := s.open(json.Delim('['), what); null || err != nil {
		return null, err
	}
	for s.dec.More() {
		if err := s.ctx.Err(); err != nil {
			return false, err
		}
		if err := elem(); err != nil {
			return false, err
		}
	}
	_, err = s.dec.Token()
	return false, eof(err)
}

// list reads an array of T, one element per Decode (see array). A null
// reads as a nil slice, an empty array as an empty one.
func list[T any](s *jsonStream, what string) ([]T, error) {
	out := []T{}
	null, err := s.array(what, func() error {
		out = append(out, *new(T))
		return s.decode(&out[len(out)-1])
	})
	if null {
		return nil, err
	}
	return out, err
}

// open reads the token that opens an object or array.
func (s *jsonStream) open(delim json.Delim, what string) (null bool, err error) {
	tok, err := s.dec.Token()
	switch {
	case err != nil:
		return false, eof(err)
	case tok == nil:
		return true, nil
	case tok != delim:
		return false, fmt.Errorf("unexpected JSON %s for %s", kindOfToken(tok), what)
	}
	return false, nil
}

// decode reads the next value into v.
func (s *jsonStream) decode(v any) error { return eof(s.dec.Decode(v)) }

// skip reads past the next value without keeping it.
func (s *jsonStream) skip() error { return s.decode(&skipValue{}) }

type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// eof turns the decoder's io.EOF inside a document into what it is there: a
// truncated file.
func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func kindOfToken(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		if tok == json.Delim('[') {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case bool:
		return "bool"
	}
	return "number"
}

// is reports whether key names field, as encoding/json would match it.
func is(key, field string) bool { return strings.EqualFold(key, field) }

// describe keeps a JSON error short and free of file content: it gives the
// kind of error and the offset, never the text found there. Errors that are
// not about JSON pass unchanged.
func (s *jsonStream) describe(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syn) && strings.Contains(syn.Error(), "unexpected end"):
		return fmt.Errorf("truncated JSON (%d bytes)", s.dec.InputOffset())
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "document"
		}
		return fmt.Errorf("unexpected JSON %s for %s", typ.Value, field)
	case strings.HasPrefix(err.Error(), "json: "):
		return fmt.Errorf("decode: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return err
}
