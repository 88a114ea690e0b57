package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"ecrscanner/infra/qscanner/qscannertest"
)

func runInspectReportCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"inspect-report"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestInspectReportCounts(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want inspectedReport
	}{
		{
			name: "basic output",
			args: []string{qscannertest.FixtureDir("basic")},
			want: inspectedReport{Vulnerabilities: 7, Critical: 2, High: 2, Medium: 1, Low: 1, Informational: 1,
				Fixable: 3, Secrets: 2, QScannerVersion: "4.8.0-2", OS: "Ubuntu 22.04.3 LTS", Platform: "linux/amd64",
				Digest: "sha256:c18fc94bfd14266ba26da4acce6c6be603a653a18ef786467bacf94cdf5d710c"},
		},
		{
			name: "unreadable severities count as unknown",
			args: []string{qscannertest.FixtureDir("odd")},
			want: inspectedReport{Vulnerabilities: 9, High: 2, Medium: 1, Low: 1, Unknown: 5, Fixable: 2, Secrets: 3,
				QScannerVersion: "5.0.0-beta", OS: "alpine 3.19", Platform: "linux/arm64"},
		},
		{
			name: "partial output when asked for",
			args: []string{"-partial", qscannertest.FixtureDir("missing-sarif")},
			want: inspectedReport{Secrets: 1, Partial: true, QScannerVersion: "4.8.0-2", OS: "debian 12.5"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runInspectReportCLI(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if strings.Count(stdout, "\n") != 1 {
				t.Errorf("stdout is not one line: %q", stdout)
			}
			var got inspectedReport
			dec := json.NewDecoder(strings.NewReader(stdout))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			for _, key := range []string{`"vulnerabilities":`, `"critical":`, `"high":`, `"medium":`, `"low":`, `"informational":`, `"secrets":`} {
				if !strings.Contains(stdout, key) {
					t.Errorf("stdout lacks %s", key)
				}
			}
		})
	}
}

func TestInspectReportNeverPrintsMatchedText(t *testing.T) {
	for _, dir := range []string{"basic", "odd"} {
		code, stdout, stderr := runInspectReportCLI(t, qscannertest.FixtureDir(dir))
		if code != 0 {
			t.Fatalf("%s: exit %d, %q", dir, code, stderr)
		}
		for _, m := range []string{"AKIAZQ3EXAMPLEFAKE42", "ghp_FAKE"} {
			if strings.Contains(stdout+stderr, m) {
				t.Errorf("%s: output carries the matched text %q", dir, m)
			}
		}
	}
}

func TestInspectReportErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		reason string
	}{
		{"garbage output", []string{qscannertest.FixtureDir("garbage")}, "not valid JSON"},
		{"report missing without -partial", []string{qscannertest.FixtureDir("missing-sarif")}, "package scan ran"},
		{"no such directory", []string{qscannertest.FixtureDir("does-not-exist")}, "read output dir"},
		{"no directory given", nil, "want exactly one DIR"},
		{"two directories", []string{"a", "b"}, "want exactly one DIR"},
		{"unknown flag", []string{"-bogus", "a"}, "bogus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runInspectReportCLI(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.reason) {
				t.Errorf("stderr %q: want one line mentioning %q", stderr, tc.reason)
			}
		})
	}
}

func TestInspectReportHelpAndListing(t *testing.T) {
	if code, _, stderr := runInspectReportCLI(t, "-h"); code != 0 || !strings.Contains(stderr, "usage: ecrscan inspect-report") {
		t.Errorf("-h: exit %d, %q", code, stderr)
	}
	var errb bytes.Buffer
	run([]string{"help"}, &bytes.Buffer{}, &errb)
	if !strings.Contains(errb.String(), "inspect-report") {
		t.Errorf("inspect-report not listed in the usage: %q", errb.String())
	}
}
