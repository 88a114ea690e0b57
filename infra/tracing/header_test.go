package tracing

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"
)

func TestParseHeader(t *testing.T) {
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	tests := []struct {
		name    string
		in      string
		want    Header
		wantErr bool
	}{
		{name: "Lambda's full header", in: "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1",
			want: Header{TraceID: root, ParentID: "53995c3f42cd8ad8", Sampled: true}},
		{name: "not sampled", in: "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=0",
			want: Header{TraceID: root, ParentID: "53995c3f42cd8ad8"}},
		{name: "decision requested", in: "Root=" + root + ";Sampled=?", want: Header{TraceID: root}},
		{name: "no decision", in: "Root=" + root + ";Parent=53995c3f42cd8ad8",
			want: Header{TraceID: root, ParentID: "53995c3f42cd8ad8"}},
		{name: "root only, sampled", in: "Root=" + root + ";Sampled=1", want: Header{TraceID: root, Sampled: true}},
		{name: "any order, spaces, extra keys", in: " Sampled=1; Lineage=a87bd80c:1|68fd508a:5 ;Parent=53995c3f42cd8ad8;Root=" + root + ";Self=1-67891234-12456789abcdef012345678",
			want: Header{TraceID: root, ParentID: "53995c3f42cd8ad8", Sampled: true}},
		{name: "empty", in: "", wantErr: true},
		{name: "no root", in: "Parent=53995c3f42cd8ad8;Sampled=1", wantErr: true},
		{name: "root of the wrong shape", in: "Root=1-abc;Parent=53995c3f42cd8ad8;Sampled=1", wantErr: true},
		{name: "upper-case hex", in: "Root=1-5759E988-BD862E3FE1BE46A994272793;Sampled=1", wantErr: true},
		{name: "parent of the wrong shape", in: "Root=" + root + ";Parent=xyz;Sampled=1", wantErr: true},
		{name: "not a header at all", in: "hello", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHeader(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidHeader) {
					t.Fatalf("ParseHeader(%q) = %+v, %v; want ErrInvalidHeader", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseHeader(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestHeaderString(t *testing.T) {
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	tests := []struct {
		name string
		h    Header
		want string
	}{
		{"sampled with parent", Header{TraceID: root, ParentID: "53995c3f42cd8ad8", Sampled: true}, "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1"},
		{"unsampled with parent", Header{TraceID: root, ParentID: "53995c3f42cd8ad8"}, "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=0"},
		{"no parent", Header{TraceID: root, Sampled: true}, "Root=" + root + ";Sampled=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
			back, err := ParseHeader(tc.h.String())
			if err != nil || back != tc.h {
				t.Fatalf("round trip: %+v, %v; want %+v", back, err, tc.h)
			}
		})
	}
}

func TestNewHeaderIsAFreshSampledTrace(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	shape := regexp.MustCompile(`^Root=1-([0-9a-f]{8})-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$`)
	a, b := NewHeader(now), NewHeader(now)
	m := shape.FindStringSubmatch(a.String())
	if m == nil {
		t.Fatalf("NewHeader = %q, want Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1", a)
	}
	if want := fmt.Sprintf("%08x", now.Unix()); m[1] != want {
		t.Errorf("epoch part %s, want %s", m[1], want)
	}
	if a.TraceID == b.TraceID || a.ParentID == b.ParentID {
		t.Errorf("two headers share IDs: %q and %q", a, b)
	}
	if back, err := ParseHeader(a.String()); err != nil || back != a {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, a)
	}
}
