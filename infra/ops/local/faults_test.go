package local

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"
)

// A worker process for these tests: the test binary itself, started with
// LOCAL_FAULTS_TEST_WORKER=hold, takes one invocation and never answers.
func init() {
	if os.Getenv("LOCAL_FAULTS_TEST_WORKER") != "hold" {
		return
	}
	resp, err := http.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/next")
	if err == nil {
		resp.Body.Close()
	}
	for {
		time.Sleep(time.Hour)
	}
}

func holdingFunction(t *testing.T, workers int, timeout time.Duration) *Function {
	t.Helper()
	f := &Function{Name: "Holder", Binary: os.Args[0], Env: map[string]string{"LOCAL_FAULTS_TEST_WORKER": "hold"}, Workers: workers, Timeout: timeout}
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

type invokeOutcome struct {
	err  error
	took time.Duration
}

func invokeAsync(f *Function) chan invokeOutcome {
	done := make(chan invokeOutcome, 1)
	go func() {
		start := time.Now()
		_, err := f.Invoke(context.Background(), []byte(`{}`), "")
		done <- invokeOutcome{err, time.Since(start)}
	}()
	return done
}

func errType(err error) string {
	var fe *FunctionError
	if errors.As(err, &fe) {
		return fe.Type
	}
	return ""
}

// Killing a busy function ends its invocation at once with Lambda's
// Runtime.ExitError, long before the function's timeout; an idle function
// is left alone.
func TestKillBusyEndsTheHeldInvocation(t *testing.T) {
	f := holdingFunction(t, 1, time.Minute)
	if held := f.KillBusy(); held != 0 {
		t.Fatalf("idle function: KillBusy says %d invocations were held", held)
	}
	done := invokeAsync(f)
	held := 0
	for deadline := time.Now().Add(10 * time.Second); held == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		held = f.KillBusy()
	}
	if held != 1 {
		t.Fatalf("KillBusy held %d, want the 1 invocation", held)
	}
	select {
	case out := <-done:
		if errType(out.err) != "Runtime.ExitError" {
			t.Errorf("invocation ended with %v, want Runtime.ExitError", out.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the killed invocation did not end")
	}
}

// One invocation's timeout kills every worker; the others' invocations end
// then with Runtime.ExitError instead of each waiting for its own timeout.
func TestTimeoutEndsTheOtherWorkersInvocations(t *testing.T) {
	f := holdingFunction(t, 2, time.Second)
	first := invokeAsync(f)
	time.Sleep(700 * time.Millisecond)
	second := invokeAsync(f)
	a, b := <-first, <-second
	if errType(a.err) != "Timeout" {
		t.Errorf("first invocation: %v, want Timeout", a.err)
	}
	if errType(b.err) != "Runtime.ExitError" || b.took > 1900*time.Millisecond {
		t.Errorf("second invocation: %v after %v, want Runtime.ExitError when the first timed out", b.err, b.took)
	}
}
