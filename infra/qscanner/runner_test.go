package qscanner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/qscanner/qscannertest"
)

// testToken is distinctive so that any leak into argv, logs or reasons shows.
const testToken = "qtok-7f3c9a1e-never-print-me"

// staticToken is set before scans start and only read while they run.
type staticToken struct {
	token string
	err   error
}

func (s *staticToken) Token(context.Context) (string, error) {
	return s.token, s.err
}

// syncBuffer collects log output from concurrent scans.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type harness struct {
	runner   *Runner
	tokens   *staticToken
	logs     *syncBuffer
	workRoot string
	record   string
}

// newHarness builds a Runner around the stand-in. The stand-in is configured
// through the environment the runner passes on, as QScanner's real settings
// are.
func newHarness(t *testing.T, mode, fixture string, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{
		tokens:   &staticToken{token: testToken},
		logs:     &syncBuffer{},
		workRoot: t.TempDir(),
		record:   filepath.Join(t.TempDir(), "invocations.jsonl"),
	}
	t.Setenv("QSCANNER_STANDIN_MODE", mode)
	t.Setenv("QSCANNER_STANDIN_FIXTURE", fixture)
	t.Setenv("QSCANNER_STANDIN_FINDINGS", "")
	t.Setenv("QSCANNER_STANDIN_RECORD", h.record)
	cfg := Config{Binary: qscannertest.BuildStandIn(t), Pod: "US1", WorkRoot: h.workRoot, Reserve: time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := NewRunner(cfg, h.tokens, logger)
	if err != nil {
		t.Fatal(err)
	}
	h.runner = r
	t.Cleanup(func() {
		if strings.Contains(h.logs.String(), testToken) {
			t.Error("the Qualys token appears in the logs")
		}
		for _, m := range matchedTexts {
			if strings.Contains(h.logs.String(), m) {
				t.Errorf("a secret's matched text %q appears in the logs", m)
			}
		}
	})
	return h
}

func target(t *testing.T, seed string) domain.ScanTarget {
	t.Helper()
	ref, err := domain.NewImageRef("123456789012", "us-east-1", "payments/api", digestFor(seed), "1.4.2")
	if err != nil {
		t.Fatal(err)
	}
	return domain.ScanTarget{Ref: ref, Deadline: time.Now().Add(2 * time.Minute)}
}

// digestFor makes a distinct, valid digest per test image.
func digestFor(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

type invocation struct {
	Argv        []string `json:"argv"`
	HasTokenEnv bool     `json:"has_token_env"`
	Home        string   `json:"home"`
	TmpDir      string   `json:"tmpdir"`
	XDGConfig   string   `json:"xdg_config"`
	BannerOff   bool     `json:"banner_off"`
	PID         int      `json:"pid"`
	Child       bool     `json:"child"`
}

func (h *harness) invocations(t *testing.T) []invocation {
	t.Helper()
	f, err := os.Open(h.record)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []invocation
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var inv invocation
		if err := json.Unmarshal(sc.Bytes(), &inv); err != nil {
			t.Fatalf("record line %q: %v", sc.Text(), err)
		}
		out = append(out, inv)
	}
	return out
}

func (h *harness) assertWorkRootEmpty(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(h.workRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("scratch directories left behind: %v", entries)
	}
}

func failureOf(t *testing.T, err error) *domain.Failure {
	t.Helper()
	var f *domain.Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not a *domain.Failure", err)
	}
	return f
}

func TestScanSucceeds(t *testing.T) {
	h := newHarness(t, "ok", qscannertest.FixtureDir("basic"), nil)
	tgt := target(t, "success")
	rep, err := h.runner.Scan(context.Background(), tgt)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	sum := domain.Summarize(rep)
	if want := (domain.Counts{Critical: 2, High: 2, Medium: 1, Low: 1, Informational: 1}); sum.Vulnerabilities != want {
		t.Errorf("vulnerabilities = %+v, want %+v", sum.Vulnerabilities, want)
	}
	if sum.Secrets != 2 || sum.Fixable.Total() != 3 || rep.Partial {
		t.Errorf("secrets %d, fixable %d, partial %v; want 2, 3, false", sum.Secrets, sum.Fixable.Total(), rep.Partial)
	}
	if rep.Digest != tgt.Ref.Digest || rep.QScannerVersion != "0.0.0-standin" || rep.Platform != "linux/amd64" {
		t.Errorf("digest %s, version %q, platform %q", rep.Digest, rep.QScannerVersion, rep.Platform)
	}
	assertNoMatchedText(t, rep)
	h.assertWorkRootEmpty(t)
}

func TestScanInvocation(t *testing.T) {
	h := newHarness(t, "ok", qscannertest.FixtureDir("basic"), nil)
	// Whatever the parent process has must not reach QScanner: another token,
	// a HOME or TMPDIR outside the scan's own directory.
	t.Setenv("QUALYS_ACCESS_TOKEN", "invalid")
	t.Setenv("HOME", "/parent-home")
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "/parent-config")
	tgt := target(t, "argv")
	tgt.Platform = "linux/arm64"
	if _, err := h.runner.Scan(context.Background(), tgt); err != nil {
		t.Fatalf("Scan: %v (the parent's token must have been replaced)", err)
	}
	invs := h.invocations(t)
	if len(invs) != 1 {
		t.Fatalf("%d invocations recorded, want 1", len(invs))
	}
	inv := invs[0]
	if !inv.HasTokenEnv {
		t.Error("QUALYS_ACCESS_TOKEN not in QScanner's environment")
	}
	if slices.ContainsFunc(inv.Argv, func(a string) bool { return strings.Contains(a, testToken) }) || slices.Contains(inv.Argv, "--access-token") {
		t.Errorf("token in argv: %q", inv.Argv)
	}
	for name, dir := range map[string]string{"HOME": inv.Home, "TMPDIR": inv.TmpDir, "XDG_CONFIG_HOME": inv.XDGConfig} {
		if !strings.HasPrefix(dir, h.workRoot+string(filepath.Separator)) {
			t.Errorf("%s = %q, want a directory under the work root %s", name, dir, h.workRoot)
		}
	}
	if !inv.BannerOff {
		t.Error("DISABLE_QSCANNER_BANNER=yes not set")
	}
	flags := map[string]string{}
	for i := 0; i+1 < len(inv.Argv)-2; i += 2 {
		flags[inv.Argv[i]] = inv.Argv[i+1]
	}
	want := map[string]string{
		"--pod": "US1", "--scan-types": "pkg,secret", "--mode": "get-report", "--format": "json",
		"--report-format": "sarif", "--log-level": "info", "--platform": "linux/arm64",
	}
	for k, v := range want {
		if flags[k] != v {
			t.Errorf("%s = %q, want %q (argv %q)", k, flags[k], v, inv.Argv)
		}
	}
	for _, k := range []string{"--output-dir", "--cache-dir"} {
		if !strings.HasPrefix(flags[k], h.workRoot) {
			t.Errorf("%s = %q, want under the work root", k, flags[k])
		}
	}
	if d, err := time.ParseDuration(flags["--scan-timeout"]); err != nil || d <= 0 || d > 2*time.Minute {
		t.Errorf("--scan-timeout = %q, want a positive duration within the deadline", flags["--scan-timeout"])
	}
	if tail := inv.Argv[len(inv.Argv)-2:]; tail[0] != "image" || tail[1] != tgt.Ref.Name() {
		t.Errorf("argv ends %q, want image %s", tail, tgt.Ref.Name())
	}
	h.assertWorkRootEmpty(t)
}

func TestScanGatewayURL(t *testing.T) {
	h := newHarness(t, "ok", qscannertest.FixtureDir("basic"), func(c *Config) {
		c.Pod, c.GatewayURL = "", "https://gateway.qg3.apps.qualys.com"
	})
	if _, err := h.runner.Scan(context.Background(), target(t, "gateway")); err != nil {
		t.Fatal(err)
	}
	argv := h.invocations(t)[0].Argv
	if i := slices.Index(argv, "--gateway-url"); i < 0 || argv[i+1] != "https://gateway.qg3.apps.qualys.com" || slices.Contains(argv, "--pod") {
		t.Errorf("argv %q: want --gateway-url and no --pod", argv)
	}
}

func TestScanFailures(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		token    string
		class    domain.FailureClass
		exitCode int
		reason   string
		// report: whether the failure comes with a (parsed) report.
		report bool
	}{
		{"crash by signal", "crash", testToken, domain.FailureCrashed, 0, "killed by signal", false},
		{"go panic", "panic", testToken, domain.FailureCrashed, 2, "panic", false},
		{"garbage output", "garbage", testToken, domain.FailureUnparseableOutput, 0, "not valid JSON", false},
		{"image not found", "notfound", testToken, domain.FailureImageNotFound, 6, "image not found", false},
		{"registry refuses", "registry-auth", testToken, domain.FailureRegistryAuth, 6, "unauthorized", false},
		{"qualys refuses the token", "ok", "invalid", domain.FailureQualysAuth, 1, "401", false},
		{"policy deny", "exit42", testToken, domain.FailurePolicyDeny, 42, "DENY", true},
		{"policy audit", "exit43", testToken, domain.FailurePolicyAudit, 43, "AUDIT", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.mode, qscannertest.FixtureDir("basic"), nil)
			h.tokens.token = tc.token
			rep, err := h.runner.Scan(context.Background(), target(t, tc.name))
			f := failureOf(t, err)
			if f.Class != tc.class || f.ExitCode != tc.exitCode {
				t.Errorf("failure = %+v, want class %s exit %d", f, tc.class, tc.exitCode)
			}
			if !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", f.Reason, tc.reason)
			}
			if strings.Contains(f.Reason, testToken) {
				t.Error("token in the failure reason")
			}
			if (rep != nil) != tc.report {
				t.Fatalf("report returned = %v, want %v", rep != nil, tc.report)
			}
			if rep != nil && len(rep.Vulnerabilities) != 7 {
				t.Errorf("report with the failure has %d vulnerabilities, want 7", len(rep.Vulnerabilities))
			}
			h.assertWorkRootEmpty(t)
		})
	}
}

func TestScanPartialReport(t *testing.T) {
	h := newHarness(t, "exit40", qscannertest.FixtureDir("basic"), nil)
	tgt := target(t, "partial")
	rep, err := h.runner.Scan(context.Background(), tgt)
	f := failureOf(t, err)
	if f.Class != domain.FailurePartialReport || f.ExitCode != 40 {
		t.Errorf("failure = %+v, want partial_report exit 40", f)
	}
	if rep == nil {
		t.Fatal("no partial report returned with the failure")
	}
	if !rep.Partial || len(rep.Secrets) != 2 || len(rep.Vulnerabilities) != 0 || rep.Digest != tgt.Ref.Digest {
		t.Errorf("partial report: partial %v, %d secrets, %d vulnerabilities, digest %s", rep.Partial, len(rep.Secrets), len(rep.Vulnerabilities), rep.Digest)
	}
	assertNoMatchedText(t, rep)
	h.assertWorkRootEmpty(t)
}

func TestScanHangIsKilledAtTheDeadline(t *testing.T) {
	h := newHarness(t, "hang", "", nil)
	tgt := target(t, "hang")
	// The context's deadline is the earlier one, so it must be the one used.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	rep, err := h.runner.Scan(ctx, tgt)
	f := failureOf(t, err)
	if f.Class != domain.FailureTimeout || rep != nil {
		t.Fatalf("failure = %+v, report %v; want timeout and no report", f, rep != nil)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	h.assertWorkRootEmpty(t)
	var helper int
	for _, inv := range h.invocations(t) {
		if inv.Child {
			helper = inv.PID
		}
	}
	if helper == 0 {
		t.Fatal("the stand-in's helper process never started; cannot check the group kill")
	}
	waitDead(t, helper)
}

// waitDead waits for pid to be gone (or a zombie, when nothing reaps
// orphans in this container). The kill was already sent; only delivery is
// awaited, so this is not a timing assertion.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	for range 500 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("helper process %d survived the process-group kill", pid)
	_ = exec.Command("kill", "-9", strconv.Itoa(pid)).Run()
}

func TestScanWithoutTimeLeft(t *testing.T) {
	h := newHarness(t, "ok", qscannertest.FixtureDir("basic"), func(c *Config) { c.Reserve = time.Hour })
	_, err := h.runner.Scan(context.Background(), target(t, "late"))
	if f := failureOf(t, err); f.Class != domain.FailureTimeout {
		t.Errorf("failure = %+v, want timeout", f)
	}
	if n := len(h.invocations(t)); n != 0 {
		t.Errorf("QScanner ran %d times with no time left", n)
	}
}

func TestScanRejectsBadTargets(t *testing.T) {
	h := newHarness(t, "ok", qscannertest.FixtureDir("basic"), nil)
	good := target(t, "bad-targets")
	tests := []struct {
		name string
		edit func(*domain.ScanTarget)
	}{
		{"no digest", func(tg *domain.ScanTarget) { tg.Ref.Digest = "" }},
		{"platform that is not os/arch", func(tg *domain.ScanTarget) { tg.Platform = "--quiet" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := good
			tc.edit(&tg)
			_, err := h.runner.Scan(context.Background(), tg)
			if f := failureOf(t, err); f.Class != domain.FailureInvalidParameter {
				t.Errorf("failure = %+v, want invalid_parameter", f)
			}
		})
	}
	if n := len(h.invocations(t)); n != 0 {
		t.Errorf("QScanner ran %d times for bad targets", n)
	}
}

func TestScanTokenSourceError(t *testing.T) {
	h := newHarness(t, "ok", qscannertest.FixtureDir("basic"), nil)
	h.tokens.err = errors.New("secrets manager unavailable")
	_, err := h.runner.Scan(context.Background(), target(t, "token-error"))
	if err == nil || !strings.Contains(err.Error(), "secrets manager unavailable") {
		t.Fatalf("err = %v, want the token source's error", err)
	}
	var f *domain.Failure
	if errors.As(err, &f) {
		t.Errorf("an infrastructure error became a scan failure: %+v", f)
	}
	h.tokens.err, h.tokens.token = nil, ""
	_, err = h.runner.Scan(context.Background(), target(t, "empty-token"))
	if f := failureOf(t, err); f.Class != domain.FailureQualysAuth {
		t.Errorf("empty token: failure = %+v, want qualys_auth", f)
	}
	if n := len(h.invocations(t)); n != 0 {
		t.Errorf("QScanner ran %d times without a token", n)
	}
}

func TestScanConcurrentScansAreIsolated(t *testing.T) {
	const n = 8
	h := newHarness(t, "", qscannertest.FixtureDir("basic"), nil)
	partialTarget := target(t, "concurrent-3")
	t.Setenv("QSCANNER_STANDIN_MODE", "default=ok,"+partialTarget.Ref.Digest.String()+"=exit40")
	var wg sync.WaitGroup
	errs := make([]error, n)
	reps := make([]*domain.Report, n)
	for i := range n {
		wg.Go(func() {
			reps[i], errs[i] = h.runner.Scan(context.Background(), target(t, fmt.Sprintf("concurrent-%d", i)))
		})
	}
	wg.Wait()
	for i := range n {
		if i == 3 {
			if f := failureOf(t, errs[i]); f.Class != domain.FailurePartialReport || reps[i] == nil {
				t.Errorf("scan %d: %+v, report %v; want the per-image partial", i, f, reps[i] != nil)
			}
			continue
		}
		if errs[i] != nil || reps[i] == nil || len(reps[i].Vulnerabilities) != 7 {
			t.Errorf("scan %d: err %v", i, errs[i])
		}
	}
	invs := h.invocations(t)
	if len(invs) != n {
		t.Fatalf("%d invocations recorded, want %d", len(invs), n)
	}
	homes := map[string]bool{}
	for _, inv := range invs {
		homes[inv.Home] = true
	}
	if len(homes) != n {
		t.Errorf("%d distinct HOME directories for %d scans", len(homes), n)
	}
	h.assertWorkRootEmpty(t)
}

func TestScan20000Findings(t *testing.T) {
	h := newHarness(t, "ok", "", nil)
	t.Setenv("QSCANNER_STANDIN_FINDINGS", "20000")
	rep, err := h.runner.Scan(context.Background(), target(t, "big"))
	if err != nil {
		t.Fatal(err)
	}
	sum := domain.Summarize(rep)
	want := domain.Counts{Critical: 4000, High: 4000, Medium: 4000, Low: 4000, Informational: 4000}
	if sum.Vulnerabilities != want {
		t.Errorf("vulnerabilities = %+v, want %+v", sum.Vulnerabilities, want)
	}
	if wantFix := (domain.Counts{Critical: 2000, High: 2000, Medium: 2000, Low: 2000, Informational: 2000}); sum.Fixable != wantFix {
		t.Errorf("fixable = %+v, want %+v", sum.Fixable, wantFix)
	}
	if sum.Secrets != 1 || len(sum.Top) != domain.TopFindings {
		t.Errorf("secrets %d, top %d", sum.Secrets, len(sum.Top))
	}
	assertNoMatchedText(t, rep)
	h.assertWorkRootEmpty(t)
}

func TestNewRunnerListsEveryProblem(t *testing.T) {
	bin := qscannertest.BuildStandIn(t)
	logger := slog.New(slog.DiscardHandler)
	tokens := &staticToken{token: testToken}
	tests := []struct {
		name   string
		cfg    Config
		tokens TokenSource
		logger *slog.Logger
		want   []string
	}{
		{"everything missing", Config{Pod: "XX9"}, nil, nil,
			[]string{"nil token source", "nil logger", "no binary", `unknown pod "XX9"`}},
		{"binary that does not exist", Config{Binary: "/nonexistent/qscanner", Pod: "US1"}, tokens, logger,
			[]string{"/nonexistent/qscanner"}},
		{"pod and gateway", Config{Binary: bin, Pod: "US1", GatewayURL: "https://g.example"}, tokens, logger,
			[]string{"not both"}},
		{"neither pod nor gateway", Config{Binary: bin}, tokens, logger, []string{"no pod"}},
		{"relative gateway", Config{Binary: bin, GatewayURL: "gateway.example"}, tokens, logger, []string{"absolute http(s) URL"}},
		{"bad scan types, mode, level, reserve, work root",
			Config{Binary: bin, Pod: "EU1", ScanTypes: "pkg,virus", Mode: "scan-only", LogLevel: "loud", Reserve: -time.Second, WorkRoot: "/nonexistent"},
			tokens, logger,
			[]string{`unknown scan types ["virus"]`, "fetches no vulnerability report", `unknown log level "loud"`, "negative reserve", "not a directory"}},
		{"policy mode without tags", Config{Binary: bin, Pod: "US2", Mode: "evaluate-policy"}, tokens, logger, []string{"needs policy tags"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRunner(tc.cfg, tc.tokens, tc.logger)
			if err == nil {
				t.Fatalf("NewRunner accepted %+v", tc.cfg)
			}
			if r != nil {
				t.Error("a runner returned with the error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	r, err := NewRunner(Config{Binary: bin, Pod: "ksa1"}, tokens, logger)
	if err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	if r.cfg.Pod != "KSA1" || r.cfg.ScanTypes != "pkg,secret" || r.cfg.Mode != "get-report" || r.cfg.Reserve != 30*time.Second ||
		r.cfg.WorkRoot != os.TempDir() || r.cfg.LogLevel != "info" || !r.wantReport {
		t.Errorf("defaults = %+v", r.cfg)
	}
}

// BenchmarkParseDir20000 parses a 20,000-finding output written by the
// stand-in.
func BenchmarkParseDir20000(b *testing.B) {
	dir := b.TempDir()
	cmd := exec.Command(qscannertest.BuildStandIn(b), "--pod", "US1", "--scan-types", "pkg,secret",
		"--output-dir", dir, "image", "1.dkr.ecr.us-east-1.amazonaws.com/x@"+digestFor("bench"))
	cmd.Env = append(os.Environ(), "HOME="+b.TempDir(), "QUALYS_ACCESS_TOKEN=bench", "DISABLE_QSCANNER_BANNER=yes",
		"QSCANNER_STANDIN_FINDINGS=20000", "QSCANNER_STANDIN_MODE=ok", "QSCANNER_STANDIN_FIXTURE=", "QSCANNER_STANDIN_RECORD=")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("stand-in: %v\n%s", err, out)
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := ParseDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Vulnerabilities) != 20000 {
			b.Fatalf("%d findings", len(rep.Vulnerabilities))
		}
	}
}
