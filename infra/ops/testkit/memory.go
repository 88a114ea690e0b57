package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/stack"
)

// Report sizes the memory tests and benchmarks of the functions that read
// reports hold to (issue: a 256 MB function ran out of memory on them).
const (
	// RealisticFindings is a large real image's report: about 40 MB of JSON,
	// 2 MB compressed.
	RealisticFindings = 100_000
	// HostileFindings is a report well past any real one, with fatter
	// findings (HostileReport).
	HostileFindings = 180_000
)

// heapMetric counts the bytes of heap objects, live or not yet swept: what
// the heap holds between collections, which is what the function's memory
// must fit (GC runs normally; nothing is forced while measuring).
const heapMetric = "/memory/classes/heap/objects:bytes"

// PeakHeap runs fn and returns the high-water mark of heapMetric while it
// ran, sampled every 200µs from another goroutine (runtime/metrics reads do
// not stop the world). A collection runs first, so garbage of earlier work
// does not count; the heap fn inherits (live objects of the caller) does.
func PeakHeap(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: heapMetric}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	var (
		mu   sync.Mutex
		peak = read()
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	note := func(v uint64) {
		mu.Lock()
		peak = max(peak, v)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				note(read())
			}
		}
	}()
	fn()
	note(read())
	close(done)
	wg.Wait()
	return peak
}

// FunctionMemoryMB is the MemorySize the template gives the function built
// from handlers/<handlerDir>.
func FunctionMemoryMB(tb testing.TB, handlerDir string) int {
	tb.Helper()
	t, err := stack.Load()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range t.Functions() {
		if f.HandlerDir != handlerDir {
			continue
		}
		switch v := t.Resources[f.LogicalID].Properties["MemorySize"].(type) {
		case int:
			return v
		case float64:
			return int(v)
		case string:
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
		tb.Fatalf("function %s: MemorySize %v is not a literal number", f.LogicalID, t.Resources[f.LogicalID].Properties["MemorySize"])
	}
	tb.Fatalf("no function in the template is built from handlers/%s", handlerDir)
	return 0
}

// StoredReport writes rep to reports as the scan function would (with
// s3store over MemoryObjects, as gzip JSON) and returns the ScanCompleted
// event of the sample scan of rep pushed to refs.
func StoredReport(tb testing.TB, reports domain.ReportStore, rep *domain.Report, refs ...domain.ImageRef) events.ScanEvent {
	tb.Helper()
	loc, err := reports.PutReport(context.Background(), ScanID, rep)
	if err != nil {
		tb.Fatal(err)
	}
	// The event goes through JSON as it does on its way to a function, so
	// it shares nothing with rep (domain.Summarize's top findings are a
	// slice of a copy of every finding).
	b, err := json.Marshal(CompletedEvent(rep, refs...))
	if err != nil {
		tb.Fatal(err)
	}
	var ev events.ScanEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		tb.Fatal(err)
	}
	if ev.Report == nil || loc != *ev.Report {
		tb.Fatalf("report stored at %+v, the event points at %+v", loc, ev.Report)
	}
	return ev
}

// HostileReport is a report of about n findings fatter than any real one:
// nine in ten vulnerabilities with four CVEs, three packages with long paths
// and a long title each, one in ten secrets; for the worst case the
// functions must survive or refuse.
func HostileReport(n int) *domain.Report {
	r := LargeReport(n - n/10)
	for i := range r.Vulnerabilities {
		v := &r.Vulnerabilities[i]
		v.Title = fmt.Sprintf("%s; also affects package-%d-extra-long-name-for-a-hostile-report (DSA-%d-2)", v.Title, i, 9000+i)
		v.CVEs = append(v.CVEs, fmt.Sprintf("CVE-2022-%05d", i), fmt.Sprintf("CVE-2021-%05d", i))
		p := v.Packages[0]
		for j := range 2 {
			q := p
			q.Name = fmt.Sprintf("%s-sub%d", p.Name, j)
			q.Path = fmt.Sprintf("/usr/lib/python3/dist-packages/package_%d/sub_%d/METADATA", i, j)
			v.Packages = append(v.Packages, q)
		}
	}
	for i := 0; i < n/10; i++ {
		r.Secrets = append(r.Secrets, domain.Secret{
			RuleID: "generic-api-key", Category: "General", Title: "Generic API Key",
			Severity: domain.Severities[i%len(domain.Severities)], File: fmt.Sprintf("/srv/app/config/%d.env", i), StartLine: 1 + i%50,
		})
	}
	return r
}
