package qscanner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/procgroup"
)

// TokenSource yields the Qualys access token. The runner asks once per scan,
// so an implementation may cache and rotate as it sees fit.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Config says how to invoke QScanner. Zero values take the documented
// defaults.
type Config struct {
	// Binary is the QScanner executable, e.g. /opt/bin/qscanner.
	Binary string
	// Pod is the Qualys platform (US1 … KSA1); GatewayURL replaces it for a
	// private gateway. Exactly one of them must be set.
	Pod        string
	GatewayURL string
	// ScanTypes is QScanner's --scan-types list (default "pkg,secret").
	ScanTypes string
	// Mode is QScanner's --mode: "get-report" (default) or "evaluate-policy"
	// with PolicyTags. scan-only and inventory-only are refused: they fetch no
	// vulnerability report, and a report without one would read as clean.
	Mode       string
	PolicyTags string
	// WorkRoot holds one scratch directory per scan (default os.TempDir()).
	WorkRoot string
	// Reserve is the time kept back before the target's deadline for
	// uploading the report and writing the record (default 30s).
	Reserve time.Duration
	// LogLevel is QScanner's --log-level (default "info").
	LogLevel string
}

// Runner runs QScanner once per Scan call. It is safe for concurrent use:
// each scan gets its own HOME, TMPDIR, output and cache directories, removed
// when the scan ends, whatever the outcome.
type Runner struct {
	cfg        Config
	bin        string
	wantReport bool
	tokens     TokenSource
	logger     *slog.Logger
	// registryEnv, when set, gives each scan its registry's credentials (see SetRegistryEnv).
	registryEnv RegistryEnv
}

var _ domain.Scanner = (*Runner)(nil)

var (
	pods = map[string]bool{
		"US1": true, "US2": true, "US3": true, "US4": true, "EU1": true, "EU2": true, "EU3": true,
		"IN1": true, "CA1": true, "AE1": true, "UK1": true, "AU1": true, "KSA1": true,
	}
	knownScanTypes = map[string]bool{
		"pkg": true, "os": true, "sca": true, "secret": true, "malware": true,
		"fileinsight": true, "compliance": true, "manifest": true, "winregistry": true,
	}
	logLevels  = map[string]bool{"debug": true, "info": true, "warn": true, "error": true, "fatal": true}
	platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$`)
)

const (
	defaultScanTypes = "pkg,secret"
	defaultMode      = "get-report"
	defaultReserve   = 30 * time.Second
	defaultLogLevel  = "info"
)

// NewRunner checks cfg and its dependencies, reporting every problem at once.
func NewRunner(cfg Config, tokens TokenSource, logger *slog.Logger) (*Runner, error) {
	if cfg.ScanTypes == "" {
		cfg.ScanTypes = defaultScanTypes
	}
	if cfg.Mode == "" {
		cfg.Mode = defaultMode
	}
	if cfg.WorkRoot == "" {
		cfg.WorkRoot = os.TempDir()
	}
	if cfg.Reserve == 0 {
		cfg.Reserve = defaultReserve
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = defaultLogLevel
	}
	cfg.Pod = strings.ToUpper(strings.TrimSpace(cfg.Pod))

	var errs []error
	if tokens == nil {
		errs = append(errs, errors.New("qscanner: nil token source"))
	}
	if logger == nil {
		errs = append(errs, errors.New("qscanner: nil logger"))
	}
	bin, err := resolveBinary(cfg.Binary)
	if err != nil {
		errs = append(errs, err)
	}
	switch {
	case cfg.Pod != "" && cfg.GatewayURL != "":
		errs = append(errs, errors.New("qscanner: set either a pod or a gateway URL, not both"))
	case cfg.GatewayURL != "":
		if u, err := url.Parse(cfg.GatewayURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("qscanner: gateway URL %q: want an absolute http(s) URL", cfg.GatewayURL))
		}
	case cfg.Pod == "":
		errs = append(errs, errors.New("qscanner: no pod (US1, EU1, …) and no gateway URL"))
	case !pods[cfg.Pod]:
		errs = append(errs, fmt.Errorf("qscanner: unknown pod %q", cfg.Pod))
	}
	types, wantReport, err := parseScanTypes(cfg.ScanTypes)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.ScanTypes = types
	switch cfg.Mode {
	case "get-report":
	case "evaluate-policy":
		if cfg.PolicyTags == "" {
			errs = append(errs, errors.New("qscanner: mode evaluate-policy needs policy tags"))
		}
	case "scan-only", "inventory-only":
		errs = append(errs, fmt.Errorf("qscanner: mode %q fetches no vulnerability report; use get-report or evaluate-policy", cfg.Mode))
	default:
		errs = append(errs, fmt.Errorf("qscanner: unknown mode %q", cfg.Mode))
	}
	if st, err := os.Stat(cfg.WorkRoot); err != nil || !st.IsDir() {
		errs = append(errs, fmt.Errorf("qscanner: work root %q is not a directory", cfg.WorkRoot))
	}
	if cfg.Reserve < 0 {
		errs = append(errs, fmt.Errorf("qscanner: negative reserve %s", cfg.Reserve))
	}
	if !logLevels[cfg.LogLevel] {
		errs = append(errs, fmt.Errorf("qscanner: unknown log level %q", cfg.LogLevel))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Runner{cfg: cfg, bin: bin, wantReport: wantReport, tokens: tokens, logger: logger}, nil
}

func resolveBinary(name string) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", errors.New("qscanner: no binary configured")
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("qscanner: binary %q: %w", name, err)
	}
	// Absolute, because QScanner runs with its scratch directory as cwd.
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("qscanner: binary %q: %w", name, err)
	}
	return abs, nil
}

// parseScanTypes normalizes the list and reports whether it asks for a
// package scan (and so a vulnerability report).
func parseScanTypes(s string) (string, bool, error) {
	var types []string
	var bad []string
	want := false
	for _, t := range strings.Split(s, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "":
			continue
		case !knownScanTypes[t]:
			bad = append(bad, t)
			continue
		case t == "pkg" || t == "os" || t == "sca":
			want = true
		}
		types = append(types, t)
	}
	if len(bad) > 0 {
		return "", false, fmt.Errorf("qscanner: unknown scan types %q", bad)
	}
	if len(types) == 0 {
		return "", false, errors.New("qscanner: no scan types")
	}
	return strings.Join(types, ","), want, nil
}

// Scan runs QScanner on t and parses its output. The run ends by
// min(ctx's deadline, t.Deadline) minus the configured reserve; past it the
// whole process group is killed and the failure is FailureTimeout.
//
// A QScanner failure is returned as a domain.Failure (errors.As with
// *domain.Failure or domain.Failure). Exit 40 (partial), 42 (policy deny) and
// 43 (policy audit) return the parsed report together with the failure. Any
// other error (fetching the token, creating the scratch directory) is an
// infrastructure problem worth retrying.
func (r *Runner) Scan(ctx context.Context, t domain.ScanTarget) (*domain.Report, error) {
	started := time.Now()
	log := r.logger.With(slog.String(attr.ImageDigest, t.Ref.Digest.String()), slog.String(attr.Repository, t.Ref.Repository))
	if _, err := domain.ParseDigest(t.Ref.Digest.String()); err != nil {
		return nil, fail(domain.FailureInvalidParameter, 0, "target: %v", err).with(err)
	}
	if t.Platform != "" && !platformRE.MatchString(t.Platform) {
		return nil, fail(domain.FailureInvalidParameter, 0, "target platform %q: want os/arch[/variant]", t.Platform)
	}

	runCtx, cancel := r.runContext(ctx, t.Deadline)
	defer cancel()
	deadline, hasDeadline := runCtx.Deadline()
	if hasDeadline && !time.Now().Before(deadline) {
		return nil, fail(domain.FailureTimeout, 0, "no time left to scan once %s is kept back for upload", r.cfg.Reserve)
	}

	token, err := r.tokens.Token(runCtx)
	if err != nil {
		return nil, fmt.Errorf("qualys token for %s: %w", t.Ref.Digest, err)
	}
	if token == "" {
		return nil, fail(domain.FailureQualysAuth, 0, "the token source returned an empty Qualys token")
	}

	ws, err := newWorkspace(r.cfg.WorkRoot)
	if err != nil {
		return nil, fmt.Errorf("scratch dir for %s: %w", t.Ref.Digest, err)
	}
	defer func() {
		if err := os.RemoveAll(ws.root); err != nil {
			log.WarnContext(ctx, "qscanner scratch dir not removed", attr.Err(err))
		}
	}()

	env, err := r.withRegistry(runCtx, t.Ref, ws.env(os.Environ(), token))
	if err != nil {
		return nil, err
	}
	args := r.args(t, ws, deadline, hasDeadline)
	cmd := exec.CommandContext(runCtx, r.bin, args...)
	cmd.Dir = ws.root
	cmd.Env = env
	procgroup.Set(cmd)
	// Kill the whole group: QScanner's helpers must not outlive the deadline
	// or keep writing into a directory about to be removed.
	cmd.Cancel = func() error { return procgroup.Kill(cmd) }
	cmd.WaitDelay = 5 * time.Second
	stderr, stdout := newTail(16<<10), newTail(4<<10)
	cmd.Stderr, cmd.Stdout = stderr, stdout

	log.InfoContext(ctx, "qscanner started", slog.String(attr.Platform, t.Platform), slog.String("scan_types", r.cfg.ScanTypes), slog.String("mode", r.cfg.Mode))
	log.DebugContext(ctx, "qscanner argv", slog.Any("args", args))
	runErr := cmd.Run()

	rep, err := r.outcome(runCtx, log, runErr, ws.output, stderr, stdout, token)
	if rep != nil {
		r.finish(ctx, log, rep, t)
	}
	attrs := []any{slog.Int64(attr.DurationMS, time.Since(started).Milliseconds()), slog.Int("exit_code", exitCode(cmd))}
	if rep != nil {
		attrs = append(attrs, slog.Int("vulnerabilities", len(rep.Vulnerabilities)), slog.Int("secrets", len(rep.Secrets)), slog.Bool("partial", rep.Partial))
	}
	var f *domain.Failure
	if errors.As(err, &f) {
		attrs = append(attrs, slog.String(attr.FailureClass, string(f.Class)), slog.String("failure_reason", f.Reason))
		log.WarnContext(ctx, "qscanner failed", attrs...)
	} else if err != nil {
		attrs = append(attrs, attr.Err(err))
		log.ErrorContext(ctx, "qscanner failed", attrs...)
	} else {
		log.InfoContext(ctx, "qscanner finished", attrs...)
	}
	return rep, err
}

// runContext bounds the run by the earlier of ctx's deadline and the target's,
// minus the reserve.
func (r *Runner) runContext(ctx context.Context, target time.Time) (context.Context, context.CancelFunc) {
	end := target
	if d, ok := ctx.Deadline(); ok && (end.IsZero() || d.Before(end)) {
		end = d
	}
	if end.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, end.Add(-r.cfg.Reserve))
}

func (r *Runner) args(t domain.ScanTarget, ws workspace, deadline time.Time, hasDeadline bool) []string {
	var a []string
	if r.cfg.GatewayURL != "" {
		a = append(a, "--gateway-url", r.cfg.GatewayURL)
	} else {
		a = append(a, "--pod", r.cfg.Pod)
	}
	a = append(a,
		"--scan-types", r.cfg.ScanTypes,
		"--mode", r.cfg.Mode,
	)
	if r.cfg.Mode == "evaluate-policy" {
		a = append(a, "--policy-tags", r.cfg.PolicyTags)
	}
	a = append(a,
		"--output-dir", ws.output,
		"--cache-dir", ws.cache,
		"--format", "json",
		"--report-format", "sarif",
	)
	if hasDeadline {
		a = append(a, "--scan-timeout", scanTimeout(time.Until(deadline)))
	}
	a = append(a, "--log-level", r.cfg.LogLevel)
	if t.Platform != "" {
		a = append(a, "--platform", t.Platform)
	}
	return append(a, "image", t.Ref.Name())
}

// scanTimeout gives QScanner a little less time than the runner allows, so
// that it can stop on its own before it is killed.
func scanTimeout(left time.Duration) string {
	margin := min(left/10, 10*time.Second)
	secs := int((left - margin) / time.Second)
	return fmt.Sprintf("%ds", max(secs, 1))
}

// outcome classifies how QScanner ended and parses what it left.
func (r *Runner) outcome(runCtx context.Context, log *slog.Logger, runErr error, outDir string, stderr, stdout *tail, token string) (*domain.Report, error) {
	if runErr == nil {
		return r.parse(runCtx, log, outDir, parseOptions{wantReport: r.wantReport})
	}
	if ctxErr := runCtx.Err(); ctxErr != nil {
		what := "ran past its deadline"
		if errors.Is(ctxErr, context.Canceled) {
			what = "was cancelled"
		}
		return nil, fail(domain.FailureTimeout, 0, "qscanner %s and was killed", what).with(ctxErr)
	}
	var exitErr *exec.ExitError
	if !errors.As(runErr, &exitErr) {
		return nil, fail(domain.FailureCrashed, 0, "start qscanner: %v", runErr).with(runErr)
	}
	out := stderr.String()
	if strings.TrimSpace(out) == "" {
		out = stdout.String()
	}
	// A crash's last lines are stack frames; the panic line says more.
	detail := sanitize(crashLine(out), token)
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return nil, fail(domain.FailureCrashed, 0, "%s", joinReason("killed by signal "+ws.Signal().String(), detail)).with(runErr)
	}
	code := exitErr.ExitCode()
	class := classify(code, out)
	what := meaning(code)
	if class == domain.FailureCrashed && code != 1 {
		what = "qscanner crashed"
	}
	f := fail(class, code, "%s", joinReason(what, detail)).with(runErr)
	switch code {
	case 40:
		rep, err := r.parse(runCtx, log, outDir, parseOptions{partial: true})
		if err != nil {
			f.addReason("partial output unreadable: " + failureReason(err))
			return nil, f
		}
		return rep, f
	case 42, 43:
		rep, err := r.parse(runCtx, log, outDir, parseOptions{wantReport: r.wantReport})
		if err != nil {
			f.addReason("output unreadable: " + failureReason(err))
			return nil, f
		}
		return rep, f
	}
	return nil, f
}

// maxLoggedConflicts bounds the warnings one parse logs: a hostile output
// could describe every rule twice.
const maxLoggedConflicts = 20

// parse reads QScanner's output and logs where it contradicted itself (a rule
// described twice with different severities): the report already keeps the
// worse value, and the log says which was dropped.
func (r *Runner) parse(ctx context.Context, log *slog.Logger, outDir string, opt parseOptions) (*domain.Report, error) {
	rep, conflicts, err := parseOutput(ctx, outDir, opt)
	for i, c := range conflicts {
		if i == maxLoggedConflicts {
			log.WarnContext(ctx, "qscanner output conflicts not logged", slog.Int("conflicts_total", len(conflicts)))
			break
		}
		log.WarnContext(ctx, "qscanner output conflict", c.LogAttrs()...)
	}
	return rep, err
}

// finish sets what the runner knows better than QScanner's output.
func (r *Runner) finish(ctx context.Context, log *slog.Logger, rep *domain.Report, t domain.ScanTarget) {
	if rep.Digest != "" && rep.Digest != t.Ref.Digest && t.Platform == "" {
		log.WarnContext(ctx, "qscanner reported another digest", slog.String("reported_digest", rep.Digest.String()))
	}
	rep.Digest = t.Ref.Digest
	if rep.Platform == "" {
		rep.Platform = t.Platform
	}
}

func failureReason(err error) string {
	var f *domain.Failure
	if errors.As(err, &f) {
		return f.Reason
	}
	return err.Error()
}

func exitCode(cmd *exec.Cmd) int {
	if cmd.ProcessState == nil {
		return -1
	}
	return cmd.ProcessState.ExitCode()
}

// workspace is one scan's scratch directory. QScanner needs HOME and TMPDIR,
// and the original Python scanner re-read stale files from earlier warm invocations, so every
// scan starts empty and the whole tree is removed afterwards.
type workspace struct {
	root, home, tmp, config, output, cache string
}

func newWorkspace(parent string) (workspace, error) {
	root, err := os.MkdirTemp(parent, "qscanner-")
	if err != nil {
		return workspace{}, err
	}
	ws := workspace{
		root:   root,
		home:   filepath.Join(root, "home"),
		tmp:    filepath.Join(root, "tmp"),
		config: filepath.Join(root, "config"),
		output: filepath.Join(root, "output"),
		cache:  filepath.Join(root, "cache"),
	}
	for _, d := range []string{ws.home, ws.tmp, ws.config, ws.output, ws.cache} {
		if err := os.Mkdir(d, 0o700); err != nil {
			_ = os.RemoveAll(root)
			return workspace{}, err
		}
	}
	return ws, nil
}

// env is the parent environment (AWS credentials for ECR among it) without
// anything that would point QScanner elsewhere or carry another token, plus
// the scratch directories and the token. The token goes only here, never in
// argv, where process listings and crash logs would show it.
func (ws workspace) env(parent []string, token string) []string {
	env := make([]string, 0, len(parent)+5)
	for _, kv := range parent {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "QUALYS_ACCESS_TOKEN", "HOME", "TMPDIR", "XDG_CONFIG_HOME", "DISABLE_QSCANNER_BANNER":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+ws.home,
		"TMPDIR="+ws.tmp,
		"XDG_CONFIG_HOME="+ws.config,
		"DISABLE_QSCANNER_BANNER=yes",
		"QUALYS_ACCESS_TOKEN="+token,
	)
}
