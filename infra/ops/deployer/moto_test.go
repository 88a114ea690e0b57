package deployer

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/buildcache"
	"ecrscanner/infra/ops/modroot"
	"ecrscanner/infra/ops/motocompat"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/stack"
)

func TestMain(m *testing.M) {
	// The lifecycle test and the make targets build the functions five
	// times over; through the shared cache this package's tests, their
	// make and go run children, and other packages' test processes link
	// each binary once.
	os.Setenv(buildCacheEnv, "shared")
	compile = buildcache.BuildCached
	os.Exit(mototest.Run(m))
}

// dummyQScanner builds testdata/dummy-qscanner, a program that is NOT
// QScanner and only answers --help, as a linux/amd64 executable: the
// stand-in for the QScanner binary a user downloads. Deployed code never
// uses it; these tests put it in the layer deployed into moto.
func dummyQScanner(t *testing.T) string {
	t.Helper()
	root, err := modroot.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spec := buildcache.Spec{Root: root, GOOS: "linux", GOARCH: "amd64", Flags: []string{"-trimpath"}}
	if err := buildcache.BuildCached(context.Background(), spec, dir, "./infra/ops/deployer/testdata/dummy-qscanner"); err != nil {
		t.Fatalf("build the dummy QScanner: %v", err)
	}
	out := filepath.Join(dir, "dummy-qscanner-NOT-QUALYS")
	if err := os.Rename(filepath.Join(dir, "dummy-qscanner"), out); err != nil {
		t.Fatal(err)
	}
	return out
}

func sha256Base64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// stackName is short: the artifacts bucket name adds 33 characters to it.
func stackName() string { return mototest.UniqueName("dpl") }

// testOut collects what the deployer prints and shows it when a test fails.
type testOut struct {
	t   *testing.T
	buf bytes.Buffer
}

func (w *testOut) Write(p []byte) (int, error) { return w.buf.Write(p) }

func newTestOut(t *testing.T) *testOut {
	w := &testOut{t: t}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("deployer output:\n%s", w.buf.String())
		}
	})
	return w
}

func motoDeployer(t *testing.T, out *testOut) (*Deployer, aws.Config) {
	t.Helper()
	cfg := mototest.Config(t)
	d, err := New(NewClients(cfg, motocompat.Emulator{}), Options{Region: cfg.Region, Out: out, PollInterval: 20 * time.Millisecond, Emulator: motocompat.Emulator{}})
	if err != nil {
		t.Fatal(err)
	}
	return d, cfg
}

func result(r Report, name string) Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{Name: name, Result: "MISSING"}
}

// TestDeployLifecycleOnMoto runs the whole deploy path against moto as far as
// moto goes: build and package, artifacts bucket, template by URL, create,
// redeploy without changes, status, verify, logs, code update, destroy.
func TestDeployLifecycleOnMoto(t *testing.T) {
	out := newTestOut(t)
	d, cfg := motoDeployer(t, out)
	ctx := context.Background()
	root, err := modroot.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	qscanner := dummyQScanner(t)
	name := stackName()
	buildDir := t.TempDir()
	vars := env(map[string]string{"QUALYS_POD": "EU1", "SCAN_TYPES": "pkg", "ALERT_EMAIL": ""})
	s3c := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	// The functions the stack creates with these settings (some are
	// conditional), by handler name.
	deployedFns := func(t *testing.T) map[string]bool {
		s, err := d.Status(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, f := range s.Template.Functions() {
			if _, ok := s.Resource(f.LogicalID); ok {
				out[f.HandlerDir] = true
			}
		}
		if len(out) < 5 || !out["scan"] {
			t.Fatalf("deployed functions %v", out)
		}
		return out
	}

	start := time.Now()
	res, err := d.Deploy(ctx, DeployInput{StackName: name, ModuleRoot: root, BuildDir: buildDir, QScannerBinary: qscanner, Lookup: vars})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	t.Logf("deploy (build, package, upload, create) took %s", time.Since(start).Round(time.Millisecond))
	if res.Status != "CREATE_COMPLETE" || !res.Changed || res.Outputs["ScanFunctionName"] == "" {
		t.Fatalf("result: status %s, changed %v, outputs %v", res.Status, res.Changed, res.Outputs)
	}

	t.Run("packages are what Lambda runs", func(t *testing.T) {
		wantArch := map[string]string{"qscanner-layer": ArchX86}
		for _, f := range tmpl.Functions() {
			wantArch[f.HandlerDir] = ArchARM
		}
		wantArch["scan"] = ArchX86
		if len(res.Artifacts) != len(wantArch) {
			t.Fatalf("%d artifacts, want %d", len(res.Artifacts), len(wantArch))
		}
		machine := map[string]elf.Machine{ArchX86: elf.EM_X86_64, ArchARM: elf.EM_AARCH64}
		for _, a := range res.Artifacts {
			if a.Arch != wantArch[a.Name] {
				t.Errorf("%s built for %s, want %s", a.Name, a.Arch, wantArch[a.Name])
			}
			t.Logf("%s.zip: %s, %d bytes", a.Name, a.Arch, a.Size)
			entries := readZip(t, a.Path)
			entry := "bootstrap"
			if a.Name == "qscanner-layer" {
				entry = LayerEntry
			}
			f := entries[entry]
			if len(entries) != 1 || f == nil {
				t.Errorf("%s.zip holds %d entries, want exactly %s", a.Name, len(entries), entry)
				continue
			}
			if f.Mode() != 0o755 {
				t.Errorf("%s.zip: %s has mode %v, want 0755", a.Name, entry, f.Mode())
			}
			body := zipEntryBytes(t, f)
			ef, err := elf.NewFile(bytes.NewReader(body))
			if err != nil {
				t.Errorf("%s.zip: %s is not ELF: %v", a.Name, entry, err)
				continue
			}
			if ef.Machine != machine[a.Arch] {
				t.Errorf("%s.zip: %s is for %s, want %s", a.Name, entry, ef.Machine, machine[a.Arch])
			}
			key := res.Prefix + "/" + a.Name + ".zip"
			if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(res.Bucket), Key: aws.String(key)}); err != nil {
				t.Errorf("s3://%s/%s: %v", res.Bucket, key, err)
			}
		}
	})

	t.Run("stack parameters come from the environment and the deployer", func(t *testing.T) {
		s, err := d.describeStack(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"QualysPod": "EU1", "ScanTypes": "pkg", "ArtifactsBucket": res.Bucket, "ArtifactsPrefix": res.Prefix, "CacheTTLDays": "30"} {
			if s.Params[k] != want {
				t.Errorf("%s = %q, want %q", k, s.Params[k], want)
			}
		}
		if !strings.HasPrefix(res.Prefix, DefaultArtifactsPrefix+"/") || res.Bucket != name+"-artifacts-123456789012-us-east-1" {
			t.Errorf("artifacts at s3://%s/%s", res.Bucket, res.Prefix)
		}
	})

	t.Run("redeploying unchanged code changes nothing", func(t *testing.T) {
		again, err := d.Deploy(ctx, DeployInput{StackName: name, ModuleRoot: root, BuildDir: buildDir, QScannerBinary: qscanner, Lookup: vars})
		if err != nil {
			t.Fatal(err)
		}
		// This holds while nobody edits handlers/ during the test.
		if again.Changed || again.Prefix != res.Prefix {
			t.Errorf("changed %v, prefix %s (first %s): the same code must give the same keys", again.Changed, again.Prefix, res.Prefix)
		}
		res = again
	})

	t.Run("status", func(t *testing.T) {
		s, err := d.Status(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := RenderStatus(&buf, s); err != nil {
			t.Fatal(err)
		}
		if s.Status != "CREATE_COMPLETE" && s.Status != "UPDATE_COMPLETE" {
			t.Errorf("status %s", s.Status)
		}
		for _, want := range []string{"Status  " + s.Status, "ScanFunction", "AWS::Lambda::Function", "ScanFunctionName", res.Outputs["ScanFunctionName"]} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("status does not show %q:\n%s", want, buf.String())
			}
		}
	})

	t.Run("verify", func(t *testing.T) {
		hostCanRun := runtime.GOOS == "linux" && runtime.GOARCH == "amd64"
		tests := []struct {
			name     string
			in       VerifyInput
			want     map[string]Result
			qscanner string // expected in the qscanner detail
		}{
			{
				name: "deployed layer, no token",
				in:   VerifyInput{StackName: name},
				want: map[string]Result{
					CheckStack: Pass, CheckResources: Pass, CheckFunctions: Pass, CheckEventSources: Pass, CheckRules: Pass,
					CheckPipe: Skip, CheckLayer: Skip, CheckToken: Skip, CheckGateway: Skip,
				},
				qscanner: "s3://" + res.Bucket + "/" + res.Prefix + "/qscanner-layer.zip",
			},
			{
				name:     "local binary, operator's token",
				in:       VerifyInput{StackName: name, QScannerBinary: qscanner, Token: "a-token-for-moto"},
				want:     map[string]Result{CheckToken: Pass, CheckGateway: Skip, CheckPipe: Skip},
				qscanner: qscanner,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, err := d.Verify(ctx, tt.in)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				_ = r.Render(&buf)
				t.Logf("verify:\n%s", buf.String())
				for check, want := range tt.want {
					if got := result(r, check); got.Result != want {
						t.Errorf("%s: %s (%s), want %s", check, got.Result, got.Detail, want)
					}
				}
				q := result(r, CheckQScannerRuns)
				wantQ := Skip
				if hostCanRun {
					wantQ = Pass
				}
				if q.Result != wantQ || !strings.Contains(q.Detail, tt.qscanner) {
					t.Errorf("qscanner runs: %s %q, want %s from %s", q.Result, q.Detail, wantQ, tt.qscanner)
				}
				if hostCanRun && !strings.Contains(q.Detail, "not Qualys QScanner") {
					t.Errorf("qscanner runs detail %q does not show the binary's --help", q.Detail)
				}
				if r.Failed() {
					t.Error("verify failed on a fresh deployment")
				}
				if strings.Contains(buf.String(), "a-token-for-moto") {
					t.Error("the report shows the token")
				}
			})
		}
		t.Run("token from a secret, accepted by the gateway", func(t *testing.T) {
			token := jwt(t, map[string]any{"exp": time.Now().Add(time.Hour).Unix(), "sub": "moto"})
			sm := secretsmanager.NewFromConfig(cfg)
			full, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name + "-token"), SecretString: aws.String(token)})
			if err != nil {
				t.Fatal(err)
			}
			empty, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name + "-empty"), SecretString: aws.String(" ")})
			if err != nil {
				t.Fatal(err)
			}
			var sawAuth string
			gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sawAuth = r.Header.Get("Authorization")
				w.WriteHeader(http.StatusOK)
			}))
			defer gw.Close()
			// As against AWS: nothing is skipped for being local, so the
			// gateway is asked. (The moto-skipped resources fail there.)
			// The clients still read moto's responses.
			remote, err := New(NewClients(cfg, motocompat.Emulator{}), Options{Region: cfg.Region, Out: out})
			if err != nil {
				t.Fatal(err)
			}
			r, err := remote.Verify(ctx, VerifyInput{StackName: name, TokenSecretID: aws.ToString(full.ARN), GatewayURL: gw.URL, HTTPClient: gw.Client()})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_ = r.Render(&buf)
			if c := result(r, CheckToken); c.Result != Pass || !strings.Contains(c.Detail, aws.ToString(full.ARN)) {
				t.Errorf("token: %s %q", c.Result, c.Detail)
			}
			if c := result(r, CheckGateway); c.Result != Pass || sawAuth != "Bearer "+token {
				t.Errorf("gateway: %s %q; the gateway saw Authorization %q", c.Result, c.Detail, sawAuth)
			}
			if c := result(r, CheckPipe); c.Result != Fail {
				t.Errorf("pipe without moto leniency: %s %q, want FAIL (moto has no pipe)", c.Result, c.Detail)
			}
			if strings.Contains(buf.String(), token) {
				t.Error("the report shows the token")
			}

			r, err = d.Verify(ctx, VerifyInput{StackName: name, TokenSecretID: aws.ToString(empty.ARN)})
			if err != nil {
				t.Fatal(err)
			}
			if c := result(r, CheckToken); c.Result != Fail || !strings.Contains(c.Detail, "holds no token") || !strings.Contains(c.Detail, "put-secret-value") {
				t.Errorf("empty secret: %s %q", c.Result, c.Detail)
			}
		})
		t.Run("a missing stack fails", func(t *testing.T) {
			r, err := d.Verify(ctx, VerifyInput{StackName: stackName()})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Failed() || result(r, CheckStack).Result != Fail || result(r, CheckGateway).Result != Skip {
				t.Errorf("report %+v", r.Checks)
			}
		})
	})

	t.Run("logs", func(t *testing.T) {
		groups, err := d.LogGroups(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var scanGroup string
		for _, g := range groups {
			if g.Function == "scan" {
				scanGroup = g.Name
			}
		}
		if len(groups) != len(deployedFns(t)) || scanGroup != "/aws/lambda/"+name+"-scan" {
			t.Fatalf("log groups %v", groups)
		}
		logs := cloudwatchlogs.NewFromConfig(cfg)
		if _, err := logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(scanGroup), LogStreamName: aws.String("test")}); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UnixMilli()
		if _, err := logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
			LogGroupName: aws.String(scanGroup), LogStreamName: aws.String("test"),
			LogEvents: []logstypes.InputLogEvent{
				{Timestamp: aws.Int64(now - 2), Message: aws.String(`{"level":"INFO","msg":"first line"}` + "\n")},
				{Timestamp: aws.Int64(now - 1), Message: aws.String(`{"level":"INFO","msg":"second line"}`)},
			},
		}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := d.Logs(ctx, LogsInput{StackName: name, Function: "scan", Out: &buf}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], " scan ") || !strings.HasSuffix(lines[0], `"msg":"first line"}`) || !strings.Contains(lines[1], "second line") {
			t.Errorf("logs:\n%s", buf.String())
		}

		// Following stops when the context ends and prints each event once,
		// however many polls (every 20 ms) it makes; 2 s leaves a loaded machine
		// room to reach the first poll.
		buf.Reset()
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := d.Logs(fctx, LogsInput{StackName: name, Follow: true, Out: &buf}); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(buf.String(), "first line"); n != 1 {
			t.Errorf("following printed the first line %d times:\n%s", n, buf.String())
		}
		if err := d.Logs(ctx, LogsInput{StackName: name, Function: "nope"}); err == nil || !strings.Contains(err.Error(), "scan") {
			t.Errorf("unknown function: %v", err)
		}
	})

	t.Run("update replaces function code", func(t *testing.T) {
		lc := lambda.NewFromConfig(cfg, motocompat.LambdaTypeFix)
		fn := res.Outputs["ScanFunctionName"]
		// Put other code in place, as if the function had drifted.
		var other bytes.Buffer
		zw := zip.NewWriter(&other)
		w, _ := zw.Create("bootstrap")
		_, _ = w.Write([]byte("#!/bin/sh\necho drifted\n"))
		_ = zw.Close()
		if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: other.Bytes()}); err != nil {
			t.Fatal(err)
		}
		updated, err := d.Update(ctx, UpdateInput{StackName: name, ModuleRoot: root, BuildDir: buildDir})
		if err != nil {
			t.Fatal(err)
		}
		if want := deployedFns(t); len(updated) != len(want) {
			t.Fatalf("updated %+v, want every deployed function %v", updated, want)
		}
		for _, u := range updated {
			if u.Function == "scan" && u.Unchanged {
				t.Error("scan's drifted code was left in place")
			}
			// Every function now runs the zip update built.
			got, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(u.Name)})
			if err != nil {
				t.Fatal(err)
			}
			zipPath := filepath.Join(buildDir, u.Function+".zip")
			b, err := os.ReadFile(zipPath)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(got.CodeSha256) != sha256Base64(b) || u.CodeSha256 != sha256Base64(b) {
				t.Errorf("%s runs code %s, the fresh zip is %s", u.Function, aws.ToString(got.CodeSha256), sha256Base64(b))
			}
		}
		again, err := d.Update(ctx, UpdateInput{StackName: name, ModuleRoot: root, BuildDir: buildDir, Functions: []string{"scan"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 1 || !again[0].Unchanged {
			t.Errorf("second update of scan: %+v, want it unchanged", again)
		}
		if _, err := d.Update(ctx, UpdateInput{StackName: name, ModuleRoot: root, BuildDir: buildDir, Functions: []string{"nope"}}); err == nil {
			t.Error("update of an unknown function succeeded")
		}
	})

	t.Run("destroy", func(t *testing.T) {
		results := res.Outputs["ResultsBucketName"]
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(results), Key: aws.String("scan-results/x.json"), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}
		err := d.Destroy(ctx, DestroyInput{StackName: name, Confirm: func(string) (bool, error) { return false, nil }})
		if !errors.Is(err, ErrNotConfirmed) {
			t.Fatalf("declined destroy: %v", err)
		}
		if _, err := d.describeStack(ctx, name); err != nil {
			t.Fatalf("the stack is gone although destroy was declined: %v", err)
		}
		var plan string
		if err := d.Destroy(ctx, DestroyInput{StackName: name, Confirm: func(p string) (bool, error) { plan = p; return true, nil }}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"deletes stack " + name, "delete the artifacts bucket " + res.Bucket, "keep bucket " + results} {
			if !strings.Contains(plan, want) {
				t.Errorf("plan does not say %q:\n%s", want, plan)
			}
		}
		if _, err := d.describeStack(ctx, name); !errors.Is(err, ErrStackNotFound) {
			t.Errorf("stack after destroy: %v", err)
		}
		if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(res.Bucket)}); !notFound(err) {
			t.Errorf("artifacts bucket after destroy: %v", err)
		}
		// The retained results bucket keeps its objects.
		if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(results), Key: aws.String("scan-results/x.json")}); err != nil {
			t.Errorf("retained results bucket lost its object: %v", err)
		}
		if err := d.Destroy(ctx, DestroyInput{StackName: name}); err != nil {
			t.Errorf("destroying a destroyed stack: %v", err)
		}
	})
}

// TestDeployRefusesMissingQScanner checks that nothing is built, uploaded or
// created without the QScanner binary, and that there is no fallback.
func TestDeployRefusesMissingQScanner(t *testing.T) {
	out := newTestOut(t)
	d, cfg := motoDeployer(t, out)
	root, err := modroot.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	name := stackName()
	_, err = d.Deploy(context.Background(), DeployInput{
		StackName: name, ModuleRoot: root, BuildDir: t.TempDir(),
		QScannerBinary: filepath.Join(t.TempDir(), "build", "layer", "bin", "qscanner"), Lookup: env(nil),
	})
	if !errors.Is(err, ErrNoQScanner) || !strings.Contains(err.Error(), "QSCANNER_LAYER_BIN") {
		t.Fatalf("error %v, want ErrNoQScanner saying how to provide it", err)
	}
	s3c := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
	if _, err := s3c.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name + "-artifacts-123456789012-us-east-1")}); !notFound(err) {
		t.Errorf("artifacts bucket exists after a refused deploy: %v", err)
	}
	if _, err := d.describeStack(context.Background(), name); !errors.Is(err, ErrStackNotFound) {
		t.Errorf("stack after a refused deploy: %v", err)
	}
}
