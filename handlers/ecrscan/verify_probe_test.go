package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/probe"
)

// TestRenderVerifyJSON: --json is one document with the checks, the probe's
// stages (times in milliseconds, as named) and whether anything failed.
func TestRenderVerifyJSON(t *testing.T) {
	checks := deployer.Report{Checks: []deployer.Check{{Name: deployer.CheckStack, Result: deployer.Pass, Detail: "ok"}}}
	pr := &probe.Report{Stack: "s", Run: "r", Stages: []probe.Stage{
		{Name: probe.StageAlert, Result: deployer.Fail, After: 1500 * time.Millisecond, Detail: "not seen", Cause: "1 message(s) in AlertDLQ"},
	}}
	var out bytes.Buffer
	if err := renderVerify(&out, true, checks, pr); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Checks []deployer.Check
		Probe  struct {
			Stages []struct {
				Stage       string
				Result      string
				AfterMillis int64
				Cause       string
			}
		}
		Failed bool
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if !doc.Failed || len(doc.Checks) != 1 || len(doc.Probe.Stages) != 1 {
		t.Fatalf("document %s", out.String())
	}
	if s := doc.Probe.Stages[0]; s.Stage != probe.StageAlert || s.Result != "FAIL" || s.AfterMillis != 1500 || !strings.Contains(s.Cause, "AlertDLQ") {
		t.Errorf("stage %+v", s)
	}
}

// TestRenderVerifyTable: the probe's table follows the checks, a FAIL with
// its cause on the next line.
func TestRenderVerifyTable(t *testing.T) {
	checks := deployer.Report{Checks: []deployer.Check{{Name: deployer.CheckStack, Result: deployer.Pass, Detail: "ok"}}}
	pr := &probe.Report{Stages: []probe.Stage{{Name: probe.StageArchive, Result: deployer.Fail, After: 2 * time.Second, Detail: "not seen", Cause: "logs: aws logs tail /aws/lambda/x"}}}
	var out bytes.Buffer
	if err := renderVerify(&out, false, checks, pr); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, probe.StageArchive) {
			if !strings.Contains(l, "FAIL") || !strings.Contains(l, "2s") || i+1 >= len(lines) || !strings.Contains(lines[i+1], "cause: logs: aws logs tail") {
				t.Errorf("archive line %q then %q", l, lines[i+1])
			}
			return
		}
	}
	t.Errorf("no archive line in:\n%s", out.String())
}
