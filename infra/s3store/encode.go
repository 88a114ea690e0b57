package s3store

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"

	"ecrscanner/domain"
)

// reportHead marshals every field of a report except its two finding lists:
// the shallower fields below hide the embedded ones of the same JSON name, and
// omitempty drops them. Fields added to domain.Report later are carried along
// without a change here.
type reportHead struct {
	*domain.Report
	Vulnerabilities []struct{} `json:"vulnerabilities,omitempty"`
	Secrets         []struct{} `json:"secrets,omitempty"`
}

// encodeReport writes r to w as gzip-compressed JSON that decodes to the same
// report. It encodes one finding at a time, so the uncompressed JSON of a
// large report is never held in memory whole (json.Marshal would hold it
// twice). Empty finding lists are written as [] rather than null.
func encodeReport(w io.Writer, r *domain.Report) error {
	zw := gzip.NewWriter(w)
	ew := &errWriter{w: zw}

	head, err := json.Marshal(reportHead{Report: r})
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	head = head[:len(head)-1] // reopen the object: drop its closing brace
	ew.write(head)
	if len(head) > 1 {
		ew.writeString(",")
	}
	ew.writeString(`"vulnerabilities":[`)
	if err := encodeEach(ew, r.Vulnerabilities); err != nil {
		return err
	}
	ew.writeString(`],"secrets":[`)
	if err := encodeEach(ew, r.Secrets); err != nil {
		return err
	}
	ew.writeString("]}\n")
	if ew.err != nil {
		return fmt.Errorf("encode report: %w", ew.err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}

func encodeEach[T any](ew *errWriter, items []T) error {
	enc := json.NewEncoder(ew)
	for i := range items {
		if i > 0 {
			ew.write(comma)
		}
		if err := enc.Encode(&items[i]); err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
	}
	return nil
}

var comma = []byte(",")

// errWriter keeps the first write error so a sequence of writes can be checked
// once at the end.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) write(p []byte) { _, _ = e.Write(p) }

func (e *errWriter) writeString(s string) { _, _ = e.Write([]byte(s)) }
