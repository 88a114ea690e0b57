package probe

import "testing"

// TestTraceRoot reads the trace ID the trace stage asks X-Ray for out of the
// header the scan record stores.
func TestTraceRoot(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{"full header", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", "1-5759e988-bd862e3fe1be46a994272793"},
		{"root last, spaced", "Sampled=1; Root=1-abc-def", "1-abc-def"},
		{"no root", "Parent=53995c3f42cd8ad8;Sampled=1", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := traceRoot(tt.header); got != tt.want {
				t.Errorf("traceRoot(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}
