package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ColdStartBudget is how much slower than its floor a function may start.
const ColdStartBudget = 1.5

// coldStartEnv is what every function needs to get as far as its first
// poll: each setting its start-up requires, naming resources that need not
// exist (nothing is called during start-up), and an endpoint where nothing
// listens, so that an accidental call fails at once rather than leaving the
// machine.
func coldStartEnv() []string {
	const arn = "arn:aws:%s:us-east-1:123456789012:%s"
	return []string{
		"PATH=/usr/bin:/bin", "HOME=/tmp",
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench",
		"AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR", "AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"SCANS_TABLE=bench-scans", "REPORTS_BUCKET=bench-reports", "RESULTS_BUCKET=bench-results",
		"IDEMPOTENCY_TABLE=bench-idempotency", "CACHE_TTL_DAYS=30",
		"DLQ_URL=https://sqs.us-east-1.amazonaws.com/123456789012/bench-dlq",
		"TOPIC_ARN=" + fmt.Sprintf(arn, "sns", "bench-alerts"),
		"PRODUCT_ARN=arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
		"SCANS_TABLE_ARN=" + fmt.Sprintf(arn, "dynamodb", "table/bench-scans"),
		"QUALYS_TOKEN_SECRET_ARN=" + fmt.Sprintf(arn, "secretsmanager", "secret:bench-token"),
		"QSCANNER_BIN=/bin/true", "QUALYS_POD=US1",
		"SCAN_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/123456789012/bench-scans",
		// A sweep left no time by its reserve reads nothing and ends: the
		// invocation is as empty as the others'.
		"SWEEP_RESERVE=1h",
	}
}

// invokePayload is an empty batch of what fn receives: the invocation ends
// at once, having called nothing.
func invokePayload(fn string) string {
	if fn == "enrich" {
		return "[]"
	}
	return `{"Records":[]}`
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// initUnderRIE starts the emulator with bootstrap and invokes it twice:
// the first invocation starts the runtime process and waits for its first
// poll of /runtime/invocation/next before handing it the event; the second
// finds it polling. The difference of their round trips is the cold start:
// process start to first poll. (This emulator version's own "Init Duration"
// reads about 0 ms: its init does not wait for the runtime's first poll.)
// The emulator and the bootstrap are killed after.
func initUnderRIE(ctx context.Context, rie, bootstrap, payload string) (time.Duration, error) {
	addr, api := freeAddr(), freeAddr()
	if addr == "" || api == "" {
		return 0, errors.New("no free loopback port")
	}
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, "--log-level", "error", bootstrap)
	cmd.Env = coldStartEnv()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: the bootstrap, the emulator's child, goes
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the emulator: %w", err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	if err := waitListening(ctx, addr, 5*time.Second); err != nil {
		return 0, err
	}
	cold, err := invokeRIE(addr, payload)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, oneLine(lastLines(out.String(), 3)))
	}
	warm, err := invokeRIE(addr, payload)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, oneLine(lastLines(out.String(), 3)))
	}
	return cold - warm, nil
}

// invokeRIE invokes the emulator's function once and times the round trip.
func invokeRIE(addr, payload string) (time.Duration, error) {
	start := time.Now()
	resp, err := http.Post("http://"+addr+"/2015-03-31/functions/function/invocations", "application/json", strings.NewReader(payload))
	if err != nil {
		return 0, fmt.Errorf("invoke: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte("errorType")) {
		return 0, fmt.Errorf("invoke answered %d %s", resp.StatusCode, oneLine(string(body)))
	}
	return took, nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(ctx context.Context, addr string, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("the emulator did not listen on %s within %v", addr, bound)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// medianInit is the median Init Duration of runs starts of bootstrap.
func medianInit(ctx context.Context, rie, bootstrap, payload string, runs int) (time.Duration, error) {
	var ds []time.Duration
	for range runs {
		d, err := initUnderRIE(ctx, rie, bootstrap, payload)
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	return median(ds), nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
