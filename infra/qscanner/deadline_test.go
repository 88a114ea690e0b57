package qscanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
)

// endless is a JSON document that never ends: head, then elem repeated
// forever. It cancels the parse once it has produced cancelAfter elements,
// as a deadline would in the middle of a long decode.
type endless struct {
	head, elem  string
	cancelAfter int
	cancel      context.CancelFunc
	produced    int
	pending     string
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if e.pending == "" {
			if e.produced == e.cancelAfter {
				e.cancel()
			}
			e.pending = e.elem
			if e.produced == 0 {
				e.pending = e.head + e.elem
			}
			e.produced++
		}
		c := copy(p[n:], e.pending)
		e.pending = e.pending[c:]
		n += c
	}
	return n, nil
}

func TestDecodeStopsMidDocumentAtDeadline(t *testing.T) {
	sarifDecode := func(ctx context.Context, r io.Reader) error { _, err := decodeSARIF(ctx, r); return err }
	srDecode := func(ctx context.Context, r io.Reader) error { _, err := decodeScanResult(ctx, r); return err }
	tests := []struct {
		name   string
		decode func(context.Context, io.Reader) error
		head   string
		elem   string
	}{
		{"endless SARIF results", sarifDecode, `{"runs": [{"results": [`, `{"ruleId": "1", "properties": {"QID": 1}},`},
		{"endless SARIF rules", sarifDecode, `{"runs": [{"tool": {"driver": {"rules": [`, `{"id": "1", "properties": {"severity": 5}},`},
		{"endless secrets", srDecode, `{"SchemaVersion": 2, "SecretResults": [`, `{"Target": "a", "Secrets": [{"RuleID": "r"}]},`},
		{"endless skipped inventory", srDecode, `{"SchemaVersion": 2, "Packages": [`, `{"Name": "p", "Version": "1"},`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			in := &endless{head: tc.head, elem: tc.elem, cancelAfter: 1000, cancel: cancel}
			done := make(chan error, 1)
			go func() { done <- tc.decode(ctx, ctxReader{ctx: ctx, r: in}) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err = %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("decode still running 10s after its context was cancelled")
			}
		})
	}
}

func TestParseStopsAtDeadline(t *testing.T) {
	results := make([]map[string]any, 20000)
	rules := make([]map[string]any, 20000)
	for i := range results {
		id := fmt.Sprint(100000 + i)
		rules[i] = rule(id, map[string]any{"severity": i%5 + 1})
		results[i] = map[string]any{"ruleId": id, "properties": map[string]any{"QID": id}}
	}
	dir := writeOutput(t, rules, results)
	tests := []struct {
		name     string
		deadline time.Duration
	}{
		{"deadline already passed", -time.Second},
		{"deadline during a 20,000-finding parse", time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			rep, _, err := parseOutput(ctx, dir, parseOptions{partial: true})
			var f *domain.Failure
			if !errors.As(err, &f) || f.Class != domain.FailureTimeout {
				t.Fatalf("err = %v (report %v), want a %s failure", err, rep != nil, domain.FailureTimeout)
			}
			if !strings.Contains(f.Reason, "parse stopped at the deadline") {
				t.Errorf("reason %q does not say the deadline stopped the parse", f.Reason)
			}
		})
	}
	if _, _, err := parseOutput(context.Background(), dir, parseOptions{}); err != nil {
		t.Fatalf("without a deadline: %v", err)
	}
}
