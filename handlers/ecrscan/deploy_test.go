package main

import (
	"bytes"
	"strings"
	"testing"

	"ecrscanner/infra/ops/deployer"
)

func TestOpsCommandsAreListed(t *testing.T) {
	var out, errOut bytes.Buffer
	run([]string{"help"}, &out, &errOut)
	for _, name := range []string{"deploy", "update", "logs", "stack-status", "verify", "destroy"} {
		if !strings.Contains(errOut.String(), "  "+name+" ") {
			t.Errorf("usage does not list %s:\n%s", name, errOut.String())
		}
	}
}

func TestOpsHelp(t *testing.T) {
	tests := []struct {
		command string
		want    []string
	}{
		{"deploy", []string{"QUALYS_POD", "-> QualysPod", "QUALYS_ACCESS_TOKEN", "QUALYS_TOKEN_SECRET_ARN", "CACHE_TTL_DAYS", "ALERT_EMAIL", "QSCANNER_LAYER_BIN", "-stack"}},
		{"update", []string{"UpdateFunctionCode", "-function"}},
		{"logs", []string{"-follow", "-since", "-function"}},
		{"stack-status", []string{"resources", "outputs"}},
		{"verify", []string{"PASS/FAIL/SKIP", "qualys gateway", "never printed", "-probe", "-keep", "-json", "PROBE=1"}},
		{"destroy", []string{"--yes", "FORCE=1", "Retain"}},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run([]string{tt.command, "-h"}, &out, &errOut); code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("help does not mention %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}

// Every mapped parameter appears in deploy's help, so the documentation
// cannot drift from the mapping.
func TestDeployHelpListsEveryParameter(t *testing.T) {
	var out, errOut bytes.Buffer
	run([]string{"deploy", "-h"}, &out, &errOut)
	for _, m := range deployer.ParameterEnv {
		if !strings.Contains(errOut.String(), m.Env) || !strings.Contains(errOut.String(), m.Param) {
			t.Errorf("deploy help does not map %s to %s", m.Env, m.Param)
		}
	}
}

func TestOpsRejectStrayArguments(t *testing.T) {
	for _, command := range []string{"deploy", "update", "logs", "stack-status", "verify", "destroy"} {
		var out, errOut bytes.Buffer
		if code := run([]string{command, "extra"}, &out, &errOut); code != 2 {
			t.Errorf("%s extra: exit %d, want 2", command, code)
		}
		if code := run([]string{command, "--no-such-flag"}, &out, &errOut); code != 2 {
			t.Errorf("%s --no-such-flag: exit %d, want 2", command, code)
		}
	}
}

func TestAskYes(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    bool
		wantErr bool
	}{
		{"yes", "yes\n", true, false},
		{"y with spaces", "  Y \n", true, false},
		{"no", "n\n", false, false},
		{"just enter", "\n", false, false},
		{"anything else", "sure\n", false, false},
		{"no input at all", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := askYes(strings.NewReader(tt.input), &out, "This deletes stack demo.\n")
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "FORCE=1") {
				t.Errorf("error %q does not say how to skip the question", err)
			}
			if !strings.Contains(out.String(), "This deletes stack demo.") || !strings.Contains(out.String(), "[y/N]") {
				t.Errorf("prompt %q does not show the plan and the question", out.String())
			}
		})
	}
}

func TestSplitFunctions(t *testing.T) {
	got := splitFunctions(" scan, ,tag ")
	if strings.Join(got, "|") != "scan|tag" {
		t.Errorf("got %q", got)
	}
	if splitFunctions("") != nil {
		t.Error("empty list is not nil")
	}
}
