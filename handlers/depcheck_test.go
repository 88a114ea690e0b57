// Package handlers_test checks what the Lambda functions link.
//
// Every folder under handlers/ is a program. All but the operator CLI
// (ecrscan) are Lambda functions, and a function must never link what only
// operators and tests run: the deployer, replay, the CloudFormation model, the
// local runner and its moto harness, the test kit. Those live under
// infra/ops/, so one rule covers them; the same test also refuses any package
// whose path mentions moto, wherever it sits.
package handlers_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// operatorOnly are the import-path prefixes no function may link.
var operatorOnly = []string{"ecrscanner/infra/ops/"}

// operatorCLI is the one program under handlers/ that may link the tooling.
const operatorCLI = "ecrscan"

func TestFunctionsDoNotLinkOperatorTooling(t *testing.T) {
	functions := functionDirs(t)
	if len(functions) < 6 {
		t.Fatalf("found %d functions under handlers/ (%v); expected scan, enrich, archive, tag, alert and securityhub at least", len(functions), functions)
	}
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			deps := linkedPackages(t, "./"+fn)
			if len(deps) == 0 {
				t.Fatal("go list reported no dependencies")
			}
			for _, dep := range deps {
				if reason := forbidden(dep); reason != "" {
					t.Errorf("function %s links %s (%s); move what it needs out of infra/ops or drop the import", fn, dep, reason)
				}
			}
		})
	}
}

// TestMiddlewareImportsNoAdapter keeps handlers/consume what watermill's
// middleware package is: middleware only. Start-up wiring and adapters belong
// in infra/startup and the functions' main.go; consume may use the model, the
// wire formats, the log keys and tracing.
func TestMiddlewareImportsNoAdapter(t *testing.T) {
	allowed := map[string]bool{
		"ecrscanner/domain":        true,
		"ecrscanner/events":        true,
		"ecrscanner/infra/attr":    true,
		"ecrscanner/infra/tracing": true,
	}
	cmd := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "./consume")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./consume: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, "ecrscanner/") && !allowed[imp] {
			t.Errorf("handlers/consume imports %s; middleware imports no adapter or start-up code", imp)
		}
	}
}

func TestForbiddenRule(t *testing.T) {
	tests := []struct {
		pkg  string
		want bool
	}{
		{"ecrscanner/infra/ops/deployer", true},
		{"ecrscanner/infra/ops/mototest", true},
		{"ecrscanner/infra/ops/testkit", true},
		{"example.com/moto/client", true},
		{"ecrscanner/infra/dynamostore", false},
		{"ecrscanner/infra/opsgenie", false},
		{"github.com/aws/aws-sdk-go-v2/service/ecr", false},
	}
	for _, tt := range tests {
		if got := forbidden(tt.pkg) != ""; got != tt.want {
			t.Errorf("forbidden(%q) = %v, want %v", tt.pkg, got, tt.want)
		}
	}
}

func forbidden(pkg string) string {
	for _, prefix := range operatorOnly {
		if strings.HasPrefix(pkg, prefix) {
			return "operator and test tooling under " + strings.TrimSuffix(prefix, "/")
		}
	}
	if strings.Contains(strings.ToLower(pkg), "moto") {
		return "moto-related"
	}
	return ""
}

// functionDirs lists the program folders under handlers/ except the CLI.
func functionDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == operatorCLI {
			continue
		}
		if _, err := os.Stat(filepath.Join(e.Name(), "main.go")); err == nil {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs
}

// linkedPackages lists every package the program links when built as it is
// deployed (linux, lambda.norpc), tests excluded.
func linkedPackages(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "-f", "{{.ImportPath}}", pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
