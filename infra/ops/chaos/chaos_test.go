package chaos

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/qscanner/qscannertest"
)

// DefaultSeed is the seed of `make test` and `make chaos` unless CHAOS_SEED
// or -chaos.seed says otherwise.
const DefaultSeed = 20261202

var (
	seedFlag = flag.Uint64("chaos.seed", 0, "seed of the chaos run (default CHAOS_SEED, else DefaultSeed)")
	fullFlag = flag.Bool("chaos.full", false, "run the full size (default CHAOS_SIZE=full, else small)")
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// settings reads the seed and the size: flag, then environment, then the
// defaults.
func settings(t *testing.T) (uint64, Size) {
	t.Helper()
	seed := uint64(DefaultSeed)
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: want an unsigned integer", v)
		}
		seed = n
	}
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	size := Small
	if *fullFlag || os.Getenv("CHAOS_SIZE") == "full" {
		size = Full
	}
	return seed, size
}

// TestChaos runs the pipeline under the seed's faults and fails on any
// stuck, lost or duplicate result, or a poison message outside its DLQ.
func TestChaos(t *testing.T) {
	seed, size := settings(t)
	t.Logf("chaos seed %d, size %s (reproduce: CHAOS_SEED=%d CHAOS_SIZE=%s)", seed, size.Name, seed, size.Name)
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("ecrscanner-chaos-%d-%s.log", seed, size.Name))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: logFile}, nil))
	bound := 4 * time.Minute
	if size.Name == Full.Name {
		bound = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound+5*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{
		Seed: seed, Size: size, Config: mototest.Config(t), Endpoint: mototest.Endpoint(t),
		Prefix: mototest.UniqueName("chaos"), BuildDir: t.TempDir(), QScanner: qscannertest.BuildStandIn(t),
		Rates: DefaultRates, Quiet: 5 * time.Second, Bound: bound, Logger: logger,
		Output: func(fn, line string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(logFile, "%s | %s\n", fn, line)
		},
	})
	if err != nil {
		t.Fatalf("chaos run (seed %d, log %s): %v", seed, logPath, err)
	}
	fmt.Println(res.Summary())
	t.Logf("seed %d: %d requests proxied, faults %v; %d kills; dead-lettered %v; %d archives, %d alerts; quiescent after %v; log %s",
		seed, res.Requests, res.Faults, res.Kills, res.DeadLettered, res.Archives, res.Alerts, res.Elapsed.Round(time.Second), logPath)
	for _, l := range res.DeadLetters {
		t.Logf("dead-lettered %s", l)
	}
	for _, v := range res.Violations {
		t.Errorf("seed %d: %s", seed, v)
	}
	// The run must have exercised what it claims to: faults injected,
	// workers killed, failing scans ended as failures.
	if res.Requests == 0 || res.Faults[FaultNone] == res.Requests {
		t.Errorf("seed %d: no fault injected in %d requests", seed, res.Requests)
	}
	if res.Kills != size.Kills {
		t.Errorf("seed %d: %d of %d planned kills happened", seed, res.Kills, size.Kills)
	}
	if res.FailedWithReason == 0 {
		t.Errorf("seed %d: no scan failed, yet QScanner was told to crash or hang for some digests", seed)
	}
	if sum := res.Completed + res.FailedWithReason + res.InDLQ + res.Stuck + res.Lost - res.LostReferences; sum != res.Digests {
		t.Errorf("seed %d: %d digests accounted for, want %d", seed, sum, res.Digests)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *os.File
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
