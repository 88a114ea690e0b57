package tracing

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"ecrscanner/domain"
)

// Header is an X-Ray trace header (X-Amzn-Trace-Id,
// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"):
// the trace a unit of work belongs to, the segment that caused it, and
// whether the trace is recorded.
type Header struct {
	// TraceID is the trace's root ID, 1-<8 hex epoch seconds>-<24 hex>.
	TraceID string
	// ParentID is the ID of the segment the work descends from; empty for
	// the first segment of a trace.
	ParentID string
	// Sampled is true only for an explicit Sampled=1: an unsampled or
	// undecided ("Sampled=?") trace is not recorded here.
	Sampled bool
}

// ErrInvalidHeader wraps every ParseHeader failure.
var ErrInvalidHeader = errors.New("invalid trace header")

var (
	traceIDRE   = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	segmentIDRE = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// ParseHeader reads a trace header. Keys other than Root, Parent and Sampled
// (Lineage, Self, …) are ignored; Root is required, and Root and Parent must
// have X-Ray's shapes, so a garbled header cannot put segments into a trace
// that does not exist.
func ParseHeader(s string) (Header, error) {
	var h Header
	var root bool
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Root":
			if !traceIDRE.MatchString(v) {
				return Header{}, fmt.Errorf("%w: root %q is not 1-<8 hex>-<24 hex>", ErrInvalidHeader, domain.Truncate(v, 80, domain.Ellipsis))
			}
			h.TraceID, root = v, true
		case "Parent":
			if !segmentIDRE.MatchString(v) {
				return Header{}, fmt.Errorf("%w: parent %q is not 16 hex digits", ErrInvalidHeader, domain.Truncate(v, 80, domain.Ellipsis))
			}
			h.ParentID = v
		case "Sampled":
			h.Sampled = v == "1"
		}
	}
	if !root {
		return Header{}, fmt.Errorf("%w: %q has no Root", ErrInvalidHeader, domain.Truncate(s, 80, domain.Ellipsis))
	}
	return h, nil
}

// String renders h as "Root=…;Parent=…;Sampled=1|0", leaving Parent out when
// it is empty.
func (h Header) String() string {
	var b strings.Builder
	b.WriteString("Root=" + h.TraceID)
	if h.ParentID != "" {
		b.WriteString(";Parent=" + h.ParentID)
	}
	if h.Sampled {
		b.WriteString(";Sampled=1")
	} else {
		b.WriteString(";Sampled=0")
	}
	return b.String()
}

// Started is the time the trace began, read from the epoch part of its
// root ID; the zero time when TraceID is not in X-Ray's shape.
func (h Header) Started() time.Time {
	if !traceIDRE.MatchString(h.TraceID) {
		return time.Time{}
	}
	sec, err := strconv.ParseUint(h.TraceID[2:10], 16, 32)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0)
}

// NewHeader starts a fresh, sampled trace the way Lambda does for an
// invocation that arrives without one when active tracing is on: a new root
// whose epoch part is now, and a new parent ID standing for the function's
// own segment.
func NewHeader(now time.Time) Header {
	return Header{
		TraceID:  fmt.Sprintf("1-%08x-%s", uint32(now.Unix()), randomHex(12)),
		ParentID: randomHex(8),
		Sampled:  true,
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
