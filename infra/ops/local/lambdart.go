package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/procgroup"
)

// Function runs a Lambda function's real bootstrap binary the way the Lambda
// service does: worker processes poll a local implementation of the Lambda
// Runtime API (next invocation, response, error) for their events. moto cannot
// invoke functions without Docker; this plays exactly that role, so the code
// under test is the deployed main, configuration and all.
type Function struct {
	Name    string
	Binary  string
	Env     map[string]string
	Timeout time.Duration
	// Workers is how many invocations may run at once (reserved concurrency).
	Workers int
	// Output receives the workers' stdout and stderr, line by line.
	Output func(function, line string)
	// Credentials, when set, gives each worker as it starts the variables of
	// its execution role's credentials (AWS_ACCESS_KEY_ID, …), over Env, as
	// Lambda gives each execution environment; a respawned worker gets
	// credentials that are not about to expire.
	Credentials func(ctx context.Context) (map[string]string, error)

	srv     *http.Server
	addr    string
	queue   chan *invocation
	mu      sync.Mutex
	pending map[string]*invocation
	procs   []*exec.Cmd
	wg      sync.WaitGroup
	stop    chan struct{}
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	trace    string
	done     chan invokeResult
	once     sync.Once
}

type invokeResult struct {
	payload []byte
	err     error
}

func (inv *invocation) finish(r invokeResult) { inv.once.Do(func() { inv.done <- r }) }

// FunctionError is an error the function itself returned or raised.
type FunctionError struct {
	Function, Type, Message string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function %s failed: %s: %s", e.Function, e.Type, e.Message)
}

// Start serves the runtime API on a loopback port and starts the workers.
func (f *Function) Start() error {
	if f.Workers <= 0 {
		f.Workers = 1
	}
	if f.Timeout <= 0 {
		f.Timeout = time.Minute
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("function %s: listen: %w", f.Name, err)
	}
	f.addr = ln.Addr().String()
	f.queue = make(chan *invocation)
	f.pending = map[string]*invocation{}
	f.stop = make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", f.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", f.respond)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", f.fail)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", f.initError)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	for i := 0; i < f.Workers; i++ {
		if err := f.spawn(); err != nil {
			f.Stop()
			return err
		}
	}
	return nil
}

func (f *Function) spawn() error {
	cmd := exec.Command(f.Binary)
	env := os.Environ()
	for k, v := range f.Env {
		env = append(env, k+"="+v)
	}
	if f.Credentials != nil {
		creds, err := f.Credentials(context.Background())
		if err != nil {
			return fmt.Errorf("function %s: credentials: %w", f.Name, err)
		}
		for k, v := range creds {
			env = append(env, k+"="+v)
		}
	}
	cmd.Env = append(env,
		"AWS_LAMBDA_RUNTIME_API="+f.addr,
		"AWS_LAMBDA_FUNCTION_NAME="+f.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	procgroup.Set(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("function %s: start %s: %w", f.Name, f.Binary, err)
	}
	f.mu.Lock()
	f.procs = append(f.procs, cmd)
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if f.Output != nil {
				f.Output(f.Name, sc.Text())
			}
		}
		_ = cmd.Wait()
		f.respawn(cmd)
	}()
	return nil
}

// respawn replaces a worker that exited (crash, timeout kill), as Lambda
// starts a fresh execution environment.
func (f *Function) respawn(dead *exec.Cmd) {
	f.mu.Lock()
	for i, c := range f.procs {
		if c == dead {
			f.procs = append(f.procs[:i], f.procs[i+1:]...)
			break
		}
	}
	f.mu.Unlock()
	select {
	case <-f.stop:
		return
	default:
	}
	time.Sleep(100 * time.Millisecond)
	if err := f.spawn(); err != nil && f.Output != nil {
		f.Output(f.Name, "respawn failed: "+err.Error())
	}
}

// Invoke runs one invocation and returns the function's response.
func (f *Function) Invoke(ctx context.Context, payload []byte, traceHeader string) ([]byte, error) {
	inv := &invocation{
		id:       domain.NewID(),
		payload:  payload,
		deadline: time.Now().Add(f.Timeout),
		trace:    traceHeader,
		done:     make(chan invokeResult, 1),
	}
	select {
	case f.queue <- inv:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-f.stop:
		return nil, fmt.Errorf("function %s stopped", f.Name)
	}
	timer := time.NewTimer(time.Until(inv.deadline) + time.Second)
	defer timer.Stop()
	select {
	case r := <-inv.done:
		return r.payload, r.err
	case <-timer.C:
		f.killRunning()
		return nil, &FunctionError{Function: f.Name, Type: "Timeout", Message: fmt.Sprintf("task timed out after %v", f.Timeout)}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// killRunning ends every worker after a timeout, as Lambda discards a timed
// out environment; fresh workers are spawned by respawn.
func (f *Function) killRunning() {
	f.mu.Lock()
	procs := append([]*exec.Cmd(nil), f.procs...)
	f.mu.Unlock()
	for _, c := range procs {
		_ = procgroup.Kill(c)
	}
	// The other invocations lost their workers too: end them now, or each
	// would time out later and kill the replacements' invocations in turn.
	f.failOrphans("Runtime.ExitError", "execution environment ended by another invocation's timeout")
}

func (f *Function) next(w http.ResponseWriter, r *http.Request) {
	select {
	case inv := <-f.queue:
		f.mu.Lock()
		f.pending[inv.id] = inv
		f.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:"+f.Name)
		if inv.trace != "" {
			h.Set("Lambda-Runtime-Trace-Id", inv.trace)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
		// A worker stopping, or the server shutting down: no invocation.
	}
}

func (f *Function) take(id string) *invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv := f.pending[id]
	delete(f.pending, id)
	return inv
}

func (f *Function) respond(w http.ResponseWriter, r *http.Request) {
	inv := f.take(r.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown request id", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6*1024*1024+1))
	if err == nil && len(body) > 6*1024*1024 {
		err = errors.New("response over Lambda's 6 MB limit")
	}
	inv.finish(invokeResult{payload: body, err: err})
	w.WriteHeader(http.StatusAccepted)
}

func (f *Function) fail(w http.ResponseWriter, r *http.Request) {
	inv := f.take(r.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown request id", http.StatusBadRequest)
		return
	}
	inv.finish(invokeResult{err: decodeFunctionError(f.Name, r.Body)})
	w.WriteHeader(http.StatusAccepted)
}

func (f *Function) initError(w http.ResponseWriter, r *http.Request) {
	err := decodeFunctionError(f.Name, r.Body)
	if f.Output != nil {
		f.Output(f.Name, "init error: "+err.Error())
	}
	w.WriteHeader(http.StatusAccepted)
}

func decodeFunctionError(name string, body io.Reader) error {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	b, _ := io.ReadAll(io.LimitReader(body, 1<<20))
	if json.Unmarshal(b, &e) != nil {
		e.ErrorMessage = strings.TrimSpace(string(bytes.TrimSpace(b)))
	}
	return &FunctionError{Function: name, Type: e.ErrorType, Message: e.ErrorMessage}
}

// Stop ends the workers and the runtime API server.
func (f *Function) Stop() {
	if f.stop == nil {
		return
	}
	select {
	case <-f.stop:
		return
	default:
		close(f.stop)
	}
	f.mu.Lock()
	procs := append([]*exec.Cmd(nil), f.procs...)
	f.mu.Unlock()
	for _, c := range procs {
		_ = procgroup.Terminate(c)
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, c := range procs {
			_ = procgroup.Kill(c)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}
