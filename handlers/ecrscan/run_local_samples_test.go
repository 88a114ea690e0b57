package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"ecrscanner/infra/ops/local"
)

// TestRunLocalEverySampleEndsAsExpected is `make run EVENT=testdata/events`:
// every sample event goes through the local pipeline, under IAM, as AWS
// would take it (the bus refuses, a rule does not route, the scan function
// skips, dead-letters with a reason, or scans), and every dead letter is
// one a sample explains.
func TestRunLocalEverySampleEndsAsExpected(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline twice")
	}
	t.Setenv("ECRSCAN_BUILD_CACHE", "shared")
	files, err := filepath.Glob("../../testdata/events/*.json")
	if err != nil || len(files) < 30 {
		t.Fatalf("%d samples (%v); want the project's", len(files), err)
	}
	code, stdout, stderr := runCLI(t, "run-local", "--event", "../../testdata/events")
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("%d sample(s), %d as expected", len(files), len(files))) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"dead-lettered in ScanDLQ: invalid ecr push event", "refused by the bus", "not routed to the scan queue", "dead letters: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if strings.Contains(stdout, "UNEXPECTED") {
		t.Errorf("unexpected dead letters:\n%s", stdout)
	}
}

// TestRunLocalFailsOnAnUnexpectedDeadLetter: a push that should be scanned
// but ends in a dead-letter queue (here because the scan role lacks an
// action) makes the run fail, and its summary names the message and why.
func TestRunLocalFailsOnAnUnexpectedDeadLetter(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	t.Setenv("ECRSCAN_BUILD_CACHE", "shared")
	t.Setenv(local.DropActionEnv, "ScanRole:dynamodb:PutItem")
	code, stdout, stderr := runCLI(t, "run-local", "--event", "../../testdata/events/ecr-image-action-push.json", "--timeout", "20s")
	if code == 0 {
		t.Fatalf("exit 0 although the scan cannot be recorded\nstdout:\n%s", stdout)
	}
	for _, want := range []string{"UNEXPECTED", "ScanDLQ", "dynamodb:PutItem", "FAIL ecr-image-action-push.json"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q\nstdout:\n%s\nstderr:\n%s", want, stdout, stderr)
		}
	}
}
