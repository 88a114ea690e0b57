package deployer

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ecrscanner/infra/ops/modroot"
	"ecrscanner/infra/ops/mototest"
)

// TestMakeTargetsOnMoto runs the Makefile's deploy, status, verify, update
// and destroy targets as a user would, with AWS_ENDPOINT_URL pointing at this
// package's moto. It needs make and takes a few seconds once the build cache
// is warm (the lifecycle test warms it), so -short skips it.
func TestMakeTargetsOnMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make and go run; skipped with -short")
	}
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	endpoint := mototest.Endpoint(t)
	root, err := modroot.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	name := stackName()
	home := t.TempDir()
	// Nothing from the developer's AWS setup or an enclosing make may leak in.
	environ := withoutEnv(os.Environ(), "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "STACK_NAME", "QSCANNER_LAYER_BIN",
		"ARTIFACTS_BUCKET", "ARTIFACTS_PREFIX", "FUNCTION", "FORCE")
	for _, m := range ParameterEnv {
		environ = withoutEnv(environ, m.Env)
	}
	environ = append(environ,
		"AWS_ENDPOINT_URL="+endpoint, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_CONFIG_FILE="+home+"/config", "AWS_SHARED_CREDENTIALS_FILE="+home+"/credentials",
		"STACK_NAME="+name, "QSCANNER_LAYER_BIN="+dummyQScanner(t), "QUALYS_POD=US3",
		// A conditional function switched off: verify and update must
		// expect it absent.
		"ENABLE_SECURITY_HUB=false",
	)
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(makeBin, append([]string{"--no-print-directory", "-C", root}, args...)...)
		cmd.Env = environ
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		t.Logf("make %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		if (err == nil) != wantOK {
			t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}

	out := run(true, "deploy")
	for _, want := range []string{"Creating stack " + name, "QualysPod", "US3", "QUALYS_POD", "ENABLE_SECURITY_HUB", "CREATE_COMPLETE", "ScanFunctionName"} {
		if !strings.Contains(out, want) {
			t.Errorf("make deploy output lacks %q:\n%s", want, out)
		}
	}
	if out := run(true, "status"); !strings.Contains(out, "Status  CREATE_COMPLETE") {
		t.Errorf("make status:\n%s", out)
	}
	out = run(true, "verify")
	if !strings.Contains(out, "0 failed") || !strings.Contains(out, "qualys gateway  SKIP") {
		t.Errorf("make verify:\n%s", out)
	}
	if out := run(true, "update", "FUNCTION=scan"); !strings.Contains(out, "scan") || !strings.Contains(out, "unchanged") {
		t.Errorf("make update FUNCTION=scan:\n%s", out)
	}
	if out := run(true, "update"); strings.Contains(out, "securityhub") || strings.Count(out, "unchanged") < 5 {
		t.Errorf("make update with the Security Hub function off:\n%s", out)
	}
	// Without FORCE=1 and with no terminal to ask, nothing is deleted.
	if out := run(false, "destroy"); !strings.Contains(out, "FORCE=1") {
		t.Errorf("make destroy without FORCE:\n%s", out)
	}
	out = run(true, "destroy", "FORCE=1")
	if !strings.Contains(out, "Stack "+name+" deleted") || !strings.Contains(out, "Deleted artifacts bucket") {
		t.Errorf("make destroy FORCE=1:\n%s", out)
	}
	if out := run(false, "verify"); !strings.Contains(out, "does not exist") {
		t.Errorf("make verify after destroy:\n%s", out)
	}
}
