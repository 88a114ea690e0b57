package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ecrscanner/infra/ops/modroot"
)

// Result is validate.py's verdict on one request.
type Result struct {
	Index     int      `json:"index"`
	Service   string   `json:"service"`
	Operation string   `json:"operation"`
	Errors    []string `json:"errors"`
}

// ErrNoPython: the project's virtualenv (with botocore) is missing.
var ErrNoPython = errors.New("no .venv/bin/python with botocore: run `make venv`")

// python is the virtualenv's interpreter and validate.py's path in the
// checkout holding the working directory.
func python() (interp, script string, err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	root, err := modroot.Find(wd)
	if err != nil {
		return "", "", err
	}
	return pythonIn(root)
}

func pythonIn(root string) (interp, script string, err error) {
	interp = filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(interp); err != nil {
		return "", "", fmt.Errorf("%w (%v)", ErrNoPython, err)
	}
	return interp, filepath.Join(root, "infra", "ops", "conformance", "validate.py"), nil
}

// Validate runs validate.py over reqs and returns one Result per request.
func Validate(reqs []Request) ([]Result, error) {
	interp, script, err := python()
	if err != nil {
		return nil, err
	}
	return validateWith(interp, script, reqs)
}

func validateWith(interp, script string, reqs []Request) ([]Result, error) {
	f, err := os.CreateTemp("", "conformance-*.json")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if err := json.NewEncoder(f).Encode(reqs); err != nil {
		f.Close()
		return nil, fmt.Errorf("write requests: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(interp, script, f.Name())
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The models are all it reads: no AWS_* setting of the test (an empty
	// AWS_PROFILE is an unknown profile to botocore) reaches it.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("validate.py: %w: %s", err, lastLines(stderr.String(), 5))
	}
	var results []Result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		return nil, fmt.Errorf("validate.py output: %w", err)
	}
	if len(results) != len(reqs) {
		return nil, fmt.Errorf("validate.py judged %d of %d requests", len(results), len(reqs))
	}
	return results, nil
}

// Check validates reqs against the models and fails t for each problem,
// naming the request. It skips t when the virtualenv is missing, unless CI
// is set ("true" or "1"), where a skipped check would pass unseen.
func Check(t *testing.T, reqs []Request) []Result {
	t.Helper()
	if len(reqs) == 0 {
		t.Fatal("no requests captured: the adapter sent nothing")
	}
	results, err := Validate(reqs)
	if errors.Is(err, ErrNoPython) && !inCI() {
		t.Skipf("cannot check against the service models: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Operation == "" && len(r.Errors) == 0 {
			t.Errorf("request %d (%s): no operation found", r.Index, r.Service)
		}
		for _, e := range r.Errors {
			t.Errorf("%s %s (request %d): %s", r.Service, r.Operation, r.Index, e)
		}
	}
	return results
}

func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
