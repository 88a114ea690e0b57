package s3store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"ecrscanner/domain"
)

var _ domain.ReportStreamer = (*Reports)(nil)

// WalkReport reads the report at loc as GetReport does, under the same size
// bound, but decodes one finding at a time and hands it to v, so that only
// the finding being read is held, whatever the report's size. The head
// (every field but the findings) comes first: PutReport writes it first, as
// encoding/json writes domain.Report's fields in order; a report with a
// field after its findings is refused as invalid rather than walked with a
// head v has not seen. An error v returns comes back as it is.
func (s *Reports) WalkReport(ctx context.Context, loc domain.ReportLocation, v domain.ReportVisitor) error {
	if loc.Bucket == "" || loc.Key == "" {
		return fmt.Errorf("get report: %w location: bucket and key are required", domain.ErrInvalid)
	}
	body, where, err := s.open(ctx, loc)
	if err != nil {
		return err
	}
	defer body.Close()
	err = walkReport(body, s.maxBytes, v)
	var ve visitError
	switch {
	case err == nil, errors.Is(err, domain.ErrStopWalk):
		return nil
	case errors.As(err, &ve):
		return ve.err
	}
	return fmt.Errorf("get report %s: %w", where, err)
}

// visitError carries an error of the visitor through the walk unchanged.
type visitError struct{ err error }

func (e visitError) Error() string { return e.err.Error() }
func (e visitError) Unwrap() error { return e.err }

// walkReport is WalkReport on an open object: gzip-compressed JSON, or plain
// JSON when something on the way already inflated it.
func walkReport(body io.Reader, maxBytes int64, v domain.ReportVisitor) error {
	lr, err := openReport(body, maxBytes)
	if err != nil {
		return err
	}
	err = walkObject(json.NewDecoder(lr), v)
	var ve visitError
	switch {
	case err == nil, errors.As(err, &ve):
		return err
	case lr.exceeded:
		return fmt.Errorf("%w of %d bytes", ErrReportTooLarge, maxBytes)
	}
	return err
}

// walkObject reads the report object, and then the end of the input, from dec.
func walkObject(dec *json.Decoder, v domain.ReportVisitor) error {
	if tok, err := dec.Token(); err != nil {
		return fmt.Errorf("decode report: %w", err)
	} else if tok != json.Delim('{') {
		return fmt.Errorf("decode report: %w report: not a JSON object", domain.ErrInvalid)
	}
	h := headReader{visit: v.Head}
	inSecrets := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("decode report: %w", err)
		}
		key, _ := tok.(string) // an object's keys are strings
		switch {
		// encoding/json matches keys without regard to case; so does this.
		case strings.EqualFold(key, "vulnerabilities"):
			if inSecrets {
				// The port promises vulnerabilities, then secrets; every
				// writer (PutReport, encoding/json) keeps that order.
				return fmt.Errorf("decode report: %w report: vulnerabilities follow the secrets", domain.ErrInvalid)
			}
			err = h.then(func() error { return walkArray(dec, v.Vulnerability) })
		case strings.EqualFold(key, "secrets"):
			inSecrets = true
			err = h.then(func() error { return walkArray(dec, v.Secret) })
		default:
			err = h.field(dec, key)
		}
		if err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("decode report: %w", err)
	}
	if err := h.then(func() error { return nil }); err != nil {
		return err
	}
	// Read on to the end so that the gzip trailer's checksum is verified;
	// anything but whitespace after the value is corruption.
	switch _, err := dec.Token(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return fmt.Errorf("read report: %w", err)
	}
	return errors.New("decode report: trailing data after the JSON value")
}

// headReader decodes the fields before the findings as they come, keeping
// none of their text (a field domain.Report does not have is dropped), and
// hands the head to visit once, when the first finding list or the end of
// the object comes.
type headReader struct {
	visit  func(domain.ReportHead) error
	report domain.Report
	done   bool
}

// field reads the value of key, a field of the head.
func (h *headReader) field(dec *json.Decoder, key string) error {
	if h.done {
		return fmt.Errorf("decode report: %w report: field %q follows the findings", domain.ErrInvalid, domain.Truncate(key, 64, domain.Ellipsis))
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	// Unmarshal sets only the fields the object names, so the head is
	// decoded field by field exactly as a whole report's would be.
	obj, err := json.Marshal(map[string]json.RawMessage{key: raw})
	if err == nil {
		err = json.Unmarshal(obj, &h.report)
	}
	if err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	return nil
}

// then hands the head over, the first time, and runs next.
func (h *headReader) then(next func() error) error {
	if !h.done {
		h.done = true
		if h.visit != nil {
			if err := h.visit(h.report.Head()); err != nil {
				return visitError{err}
			}
		}
	}
	return next()
}

// walkArray reads one finding list, null or an array, handing each finding
// to visit. Each is decoded into a fresh value, so none shares memory with
// the next, and checked as GetReport would, visit or not.
func walkArray[T any](dec *json.Decoder, visit func(T) error) error {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return fmt.Errorf("decode report: %w", err)
	case tok == nil:
		return nil
	case tok != json.Delim('['):
		return fmt.Errorf("decode report: %w report: a finding list is not an array", domain.ErrInvalid)
	}
	for dec.More() {
		var f T
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("decode report: %w", err)
		}
		if visit != nil {
			if err := visit(f); err != nil {
				return visitError{err}
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return fmt.Errorf("decode report: %w", err)
	}
	return nil
}
