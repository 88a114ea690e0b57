// Package motoserver starts and stops moto_server, the AWS emulator the tests
// and local runs use. It depends only on the standard library and procgroup,
// so that any package's tests can use it through mototest without an import
// cycle.
package motoserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"ecrscanner/infra/ops/modroot"
	"ecrscanner/infra/procgroup"
)

// ErrMotoNotInstalled is returned by StartMoto when no moto_server binary can
// be found. Callers that may skip (tests outside CI) test for it with errors.Is.
var ErrMotoNotInstalled = errors.New("moto_server not found: run `make venv` (or set MOTO_SERVER to its path)")

// MotoOptions configures StartMoto. The zero value is ready to use.
type MotoOptions struct {
	// Binary is the moto_server executable. When empty StartMoto tries, in
	// order: $MOTO_SERVER, <module root>/.venv/bin/moto_server (the module root
	// is the nearest directory above the working directory holding go.mod),
	// then moto_server on PATH.
	Binary string
	// StartTimeout bounds how long the server may take to answer its first
	// request. Zero means 30 seconds.
	StartTimeout time.Duration
	// Output, when set, receives everything the server prints (for `make run`,
	// a log file). The last lines are kept for error messages either way.
	Output io.Writer
}

const (
	defaultStartTimeout = 30 * time.Second
	// Picking a free port then handing it to another process is racy; a lost
	// race shows up as an early exit and is retried with a new port.
	portAttempts = 3
	tailBytes    = 16 << 10
	tailLines    = 20
	stopGrace    = 5 * time.Second
)

// Moto is a running moto_server bound to 127.0.0.1. Its methods are safe for
// concurrent use.
type Moto struct {
	cmd      *exec.Cmd
	endpoint string
	out      *tail
	exited   chan struct{} // closed when the process has been reaped
	waitErr  error         // valid once exited is closed
	stopOnce sync.Once
	stopErr  error
}

// StartMoto finds moto_server, starts it in its own process group on a free
// loopback port and waits until it answers HTTP. ctx bounds the start-up only:
// the server runs until Stop. The caller must call Stop.
//
// When moto_server is a Python script (as pip installs it) the server handles
// one request at a time, so that its conditional writes are atomic as AWS's
// are (see serializeRequests).
func StartMoto(ctx context.Context, opts MotoOptions) (*Moto, error) {
	bin, err := findMoto(opts.Binary)
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var lastErr error
	for range portAttempts {
		m, err := startOnce(ctx, bin, opts.Output)
		if err == nil {
			return m, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port already in use")

func startOnce(ctx context.Context, bin string, output io.Writer) (*Moto, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	out := &tail{}
	var w io.Writer = out
	if output != nil {
		w = io.MultiWriter(out, output)
	}
	cmd := motoCommand(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = w, w
	// Unbuffered so that the last lines are there when start-up fails.
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	procgroup.Set(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server %s: %w", bin, err)
	}
	m := &Moto{
		cmd:      cmd,
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		out:      out,
		exited:   make(chan struct{}),
	}
	go func() {
		m.waitErr = cmd.Wait()
		close(m.exited)
	}()
	if err := m.waitReady(ctx); err != nil {
		_ = m.Stop()
		return nil, err
	}
	return m, nil
}

// waitReady polls the server until any HTTP response comes back, the process
// exits or ctx ends.
func (m *Moto) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint+"/moto-api/", nil)
		if err != nil {
			return fmt.Errorf("start moto_server: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-m.exited:
			last := m.out.lastLines(tailLines)
			if strings.Contains(last, "Address already in use") {
				return fmt.Errorf("start moto_server on %s: %w", m.endpoint, errPortTaken)
			}
			return fmt.Errorf("start moto_server on %s: exited early (%v); last output:\n%s", m.endpoint, m.waitErr, last)
		case <-ctx.Done():
			return fmt.Errorf("start moto_server on %s: not answering: %w; last output:\n%s", m.endpoint, ctx.Err(), m.out.lastLines(tailLines))
		case <-tick.C:
		}
	}
}

// Endpoint is the server's base URL, e.g. http://127.0.0.1:40123.
func (m *Moto) Endpoint() string { return m.endpoint }

// Reset drops every resource in every moto backend, as if the server had just
// started.
func (m *Moto) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint+"/moto-api/reset", nil)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("reset moto: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Output returns the server's last lines of output, for diagnostics.
func (m *Moto) Output() string { return m.out.lastLines(tailLines) }

// Stop terminates the server's process group, escalating to SIGKILL after a
// short grace, and waits for it. It is safe to call more than once; an exit
// caused by Stop's own signal is not an error.
func (m *Moto) Stop() error {
	m.stopOnce.Do(func() {
		select {
		case <-m.exited:
			// It died on its own before being asked to: worth reporting.
			if m.waitErr != nil {
				m.stopErr = fmt.Errorf("moto_server had exited: %v; last output:\n%s", m.waitErr, m.out.lastLines(tailLines))
			}
			return
		default:
		}
		_ = procgroup.Terminate(m.cmd)
		select {
		case <-m.exited:
		case <-time.After(stopGrace):
			_ = procgroup.Kill(m.cmd)
			<-m.exited
		}
	})
	return m.stopErr
}

// serializeRequests wraps moto's WSGI application in a lock. moto evaluates a
// conditional write (DynamoDB ConditionExpression) and then stores the item as
// two steps, while its server handles requests on parallel threads: two
// writers can both pass the same condition and one update is lost. DynamoDB
// itself is atomic here, and the stores' concurrency tests depend on it, so
// requests run one at a time. Its SQS receive is not atomic either (two
// concurrent receives can both take the same message), so short receives are
// serialized too; only a long poll (WaitTimeSeconds > 0) is exempt, because
// it would stall every other request. Pollers that share a queue should
// short-poll. The wrapper also loads iamPatches (see EnforceIAM).
const serializeRequests = `
import io, json, sys, threading
from moto.server import main
` + iamPatches + eventsPatches + securityhubPatches + orgPatches + `
try:
    control, json_errors = _ecrscan_iam()
except Exception as e:
    control, json_errors = None, lambda environ, start_response, call: call(start_response)
    print("moto IAM patches not loaded:", e, file=sys.stderr)
try:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication as app
    lock, call = threading.Lock(), app.__call__
    def long_poll(environ):
        if environ.get("HTTP_X_AMZ_TARGET", "") != "AmazonSQS.ReceiveMessage":
            return False
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n) if n else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            return int(json.loads(body or b"{}").get("WaitTimeSeconds") or 0) > 0
        except Exception:
            return False
    def serialized(self, environ, start_response):
        if control is not None:
            with lock:
                handled = control(environ, start_response)
            if handled is not None:
                return handled
        app_call = lambda sr: call(self, environ, sr)
        if long_poll(environ):
            return json_errors(environ, start_response, app_call)
        with lock:
            return json_errors(environ, start_response, app_call)
    app.__call__ = serialized
except Exception as e:
    print("moto requests not serialized:", e, file=sys.stderr)
sys.argv[0] = "moto_server"
sys.exit(main())
`

// motoCommand runs moto_server through serializeRequests when bin is a Python
// script (as pip installs it), and as it is otherwise.
func motoCommand(bin string, args ...string) *exec.Cmd {
	if py, ok := scriptInterpreter(bin); ok && strings.Contains(filepath.Base(py), "python") {
		return exec.Command(py, append([]string{"-c", serializeRequests}, args...)...)
	}
	return exec.Command(bin, args...)
}

// scriptInterpreter reads the #! line of an executable script.
func scriptInterpreter(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	line, _, _ := bytes.Cut(head[:n], []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("#!"))
	if !ok {
		return "", false
	}
	fields := strings.Fields(string(rest))
	if len(fields) == 0 {
		return "", false
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		p, err := exec.LookPath(fields[1])
		return p, err == nil
	}
	return fields[0], true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findMoto resolves the moto_server binary as MotoOptions.Binary documents.
func findMoto(explicit string) (string, error) {
	if explicit != "" {
		return lookExecutable(explicit)
	}
	if env := os.Getenv("MOTO_SERVER"); env != "" {
		p, err := lookExecutable(env)
		if err != nil {
			return "", fmt.Errorf("MOTO_SERVER: %w", err)
		}
		return p, nil
	}
	// Tests run from their package's folder and `make run` from the top: both
	// find the same venv at the module root.
	if root, err := modroot.Find("."); err == nil {
		if p, err := lookExecutable(filepath.Join(root, ".venv", "bin", "moto_server")); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w (looked in $MOTO_SERVER, <module root>/.venv/bin and PATH)", ErrMotoNotInstalled)
}

func lookExecutable(path string) (string, error) {
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrMotoNotInstalled, path, err)
	}
	return p, nil
}

// tail keeps the last tailBytes of a stream. moto logs every request, so a
// long test run must not grow memory without bound.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailBytes; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(t.buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CloudFormationSkips lists the resource types moto's CloudFormation does not
// create (it logs a warning and moves on). Whoever deploys into moto plays or
// provides them, or expects their absence.
var CloudFormationSkips = map[string]bool{
	"AWS::Pipes::Pipe":            true,
	"AWS::CloudWatch::Alarm":      true,
	"AWS::SecretsManager::Secret": true,
	"AWS::SNS::Subscription":      true,
	"AWS::SQS::QueuePolicy":       true,
	"AWS::S3::BucketPolicy":       true,
	// Nor does moto run schedules: the local run invokes the sweep itself.
	"AWS::Scheduler::Schedule": true,
	// The hub's ingress bus policy: moto evaluates no bus policy either
	// (see orgPatches).
	"AWS::Events::EventBusPolicy": true,
}
