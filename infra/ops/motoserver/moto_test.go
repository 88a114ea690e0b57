package motoserver

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartMotoAnswersAndStops(t *testing.T) {
	m := startOrSkip(t)
	resp, err := http.Get(m.Endpoint() + "/moto-api/")
	if err != nil {
		t.Fatalf("GET /moto-api/: %v", err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(m.Endpoint(), "http://127.0.0.1:") {
		t.Errorf("Endpoint() = %q, want a loopback URL", m.Endpoint())
	}
	if err := m.Reset(context.Background()); err != nil {
		t.Errorf("Reset: %v", err)
	}
	if err := m.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := m.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := http.Get(m.Endpoint() + "/moto-api/"); err == nil {
		t.Error("server still answers after Stop")
	}
}

func TestStartMotoTwiceUsesDistinctPorts(t *testing.T) {
	a := startOrSkip(t)
	b := startOrSkip(t)
	if a.Endpoint() == b.Endpoint() {
		t.Fatalf("both servers on %s", a.Endpoint())
	}
}

func TestStartMotoFailures(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		binary  string
		env     string
		wantIs  error
		wantMsg string
	}{
		{
			name:    "missing binary",
			binary:  filepath.Join(dir, "nope"),
			wantIs:  ErrMotoNotInstalled,
			wantMsg: "make venv",
		},
		{
			name:    "missing binary named by MOTO_SERVER",
			env:     filepath.Join(dir, "nope"),
			wantIs:  ErrMotoNotInstalled,
			wantMsg: "MOTO_SERVER",
		},
		{
			name:    "server exits at once",
			binary:  script("crash", "echo 'Traceback: no module named moto' >&2; exit 3"),
			wantMsg: "no module named moto",
		},
		{
			name:    "server never answers",
			binary:  script("hang", "echo 'warming up'; sleep 60"),
			wantIs:  context.DeadlineExceeded,
			wantMsg: "warming up",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("MOTO_SERVER", tc.env)
			}
			m, err := StartMoto(context.Background(), MotoOptions{Binary: tc.binary, StartTimeout: 2 * time.Second})
			if err == nil {
				m.Stop()
				t.Fatal("StartMoto succeeded, want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v, want errors.Is %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}

func TestTailKeepsLastLines(t *testing.T) {
	var tl tail
	for i := range 5000 {
		tl.Write([]byte(strings.Repeat("x", i%50) + "\n"))
	}
	tl.Write([]byte("second to last\nlast\n"))
	if len(tl.buf) > tailBytes {
		t.Errorf("buffer grew to %d bytes, bound is %d", len(tl.buf), tailBytes)
	}
	got := tl.lastLines(2)
	if got != "second to last\nlast" {
		t.Errorf("lastLines(2) = %q", got)
	}
}

// startOrSkip starts a moto_server for one test, skipping when it is not
// installed (outside CI) and stopping it at cleanup.
func startOrSkip(t *testing.T) *Moto {
	t.Helper()
	m, err := StartMoto(context.Background(), MotoOptions{})
	if errors.Is(err, ErrMotoNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("StartMoto: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return m
}

func TestScriptInterpreter(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	tests := []struct {
		name   string
		path   string
		want   string
		wantOK bool
	}{
		{name: "absolute interpreter", path: write("pip", "#!/venv/bin/python3\nimport sys\n"), want: "/venv/bin/python3", wantOK: true},
		{name: "env lookup", path: write("envsh", "#!/usr/bin/env sh\necho\n"), want: sh, wantOK: true},
		{name: "interpreter with argument", path: write("arg", "#!/usr/bin/python3 -u\n"), want: "/usr/bin/python3", wantOK: true},
		{name: "binary", path: write("elf", "\x7fELF\x02\x01"), wantOK: false},
		{name: "empty #! line", path: write("empty", "#!\n"), wantOK: false},
		{name: "missing file", path: filepath.Join(dir, "nope"), wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scriptInterpreter(tc.path)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("scriptInterpreter = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
