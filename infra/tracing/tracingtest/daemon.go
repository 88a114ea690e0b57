// Package tracingtest is a stand-in X-Ray daemon for tests: it listens on a
// UDP port on 127.0.0.1, as the real daemon does on AWS_XRAY_DAEMON_ADDRESS,
// and decodes the segment documents the SDK really sends, so tests assert on
// what X-Ray would receive rather than on the SDK's in-memory state.
package tracingtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/xray"
)

// Document is one segment or subsegment document as X-Ray receives it (the
// fields tests look at; see the X-Ray segment document schema).
type Document struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	TraceID  string `json:"trace_id"`
	ParentID string `json:"parent_id"`
	// Type is "subsegment" for a subsegment sent on its own (its parent is
	// sent separately, or recorded by Lambda); "" for a segment.
	Type string `json:"type"`
	// Namespace is "aws" for an instrumented AWS SDK call.
	Namespace   string          `json:"namespace"`
	StartTime   float64         `json:"start_time"`
	EndTime     float64         `json:"end_time"`
	InProgress  bool            `json:"in_progress"`
	Error       bool            `json:"error"`
	Fault       bool            `json:"fault"`
	Throttle    bool            `json:"throttle"`
	Cause       json.RawMessage `json:"cause"`
	Annotations map[string]any  `json:"annotations"`
	AWS         map[string]any  `json:"aws"`
	// Subsegments are the children sent inline with this document.
	Subsegments []Document `json:"subsegments"`
}

// Decode reads one daemon datagram: a JSON header line
// ({"format": "json", "version": 1}) and a segment document.
func Decode(datagram []byte) (Document, error) {
	head, body, ok := bytes.Cut(datagram, []byte("\n"))
	if !ok {
		return Document{}, errors.New("datagram without a header line")
	}
	var h struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(head, &h); err != nil || h.Format != "json" || h.Version != 1 {
		return Document{}, fmt.Errorf("datagram header %q: want {\"format\":\"json\",\"version\":1} (%v)", head, err)
	}
	var d Document
	if err := json.Unmarshal(body, &d); err != nil {
		return Document{}, fmt.Errorf("segment document: %w", err)
	}
	return d, nil
}

// Duration is how long the (sub)segment ran; zero while in progress.
func (d Document) Duration() time.Duration {
	if d.EndTime == 0 {
		return 0
	}
	return time.Duration((d.EndTime - d.StartTime) * float64(time.Second))
}

// Annotation is the annotation key rendered as text; "" if absent.
func (d Document) Annotation(key string) string {
	v, ok := d.Annotations[key]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// Operation is the AWS operation of an instrumented SDK call ("PutObject").
func (d Document) Operation() string {
	s, _ := d.AWS["operation"].(string)
	return s
}

// Walk visits d and its inline subsegments depth first, d at depth 0.
func (d Document) Walk(fn func(doc Document, depth int)) {
	var walk func(Document, int)
	walk = func(x Document, depth int) {
		fn(x, depth)
		for _, c := range x.Subsegments {
			walk(c, depth+1)
		}
	}
	walk(d, 0)
}

// Find returns the first document named name among d and its inline
// subsegments, depth first.
func (d Document) Find(name string) (Document, bool) {
	var found *Document
	d.Walk(func(x Document, _ int) {
		if found == nil && x.Name == name {
			found = &x
		}
	})
	if found == nil {
		return Document{}, false
	}
	return *found, true
}

// Daemon is the stand-in daemon. Safe for concurrent use.
type Daemon struct {
	conn *net.UDPConn
	done chan struct{}

	mu   sync.Mutex
	docs []Document
	errs []error
}

// Listen starts a daemon on a free UDP port on 127.0.0.1; it stops when the
// test ends. Point the SDK at it with AWS_XRAY_DAEMON_ADDRESS=d.Addr().
func Listen(t testing.TB) *Daemon {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("X-Ray stand-in daemon: %v", err)
	}
	// Segments arrive in bursts (a batch of subsegments at the end of an
	// invocation); a small socket buffer would drop some.
	_ = conn.SetReadBuffer(4 << 20)
	d := &Daemon{conn: conn, done: make(chan struct{})}
	go d.serve()
	t.Cleanup(func() {
		_ = conn.Close()
		<-d.done
	})
	return d
}

func (d *Daemon) serve() {
	defer close(d.done)
	buf := make([]byte, 64*1024) // a UDP datagram's maximum
	for {
		n, _, err := d.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		doc, err := Decode(buf[:n])
		d.mu.Lock()
		if err != nil {
			d.errs = append(d.errs, err)
		} else {
			d.docs = append(d.docs, doc)
		}
		d.mu.Unlock()
	}
}

// Addr is the daemon's address, "127.0.0.1:<port>".
func (d *Daemon) Addr() string { return d.conn.LocalAddr().String() }

// Documents returns the documents received so far, in arrival order.
func (d *Daemon) Documents() []Document {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Document(nil), d.docs...)
}

// Errors returns the datagrams that could not be decoded, as errors.
func (d *Daemon) Errors() []error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]error(nil), d.errs...)
}

// Wait polls the received documents until cond holds, failing the test with
// what after within; it returns the documents cond accepted.
func (d *Daemon) Wait(t testing.TB, within time.Duration, what string, cond func([]Document) bool) []Document {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		docs := d.Documents()
		if cond(docs) {
			return docs
		}
		if time.Now().After(deadline) {
			t.Fatalf("X-Ray stand-in daemon: %s: not within %v (%d documents received)\n%s", what, within, len(docs), Tree(docs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// InTrace returns the documents of one trace.
func InTrace(docs []Document, traceID string) []Document {
	var out []Document
	for _, d := range docs {
		if d.TraceID == traceID {
			out = append(out, d)
		}
	}
	return out
}

// Invocation is the context aws-lambda-go gives a handler that Lambda
// invoked with trace header header (X-Amzn-Trace-Id), under the key the X-Ray
// SDK reads: what a test passes to code that traces under its invocation.
func Invocation(ctx context.Context, header string) context.Context {
	return context.WithValue(ctx, xray.LambdaTraceHeaderKey, header) //nolint:staticcheck // aws-lambda-go's own key is this plain string
}
