package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"ecrscanner/infra/tracing"
	"ecrscanner/infra/tracing/tracingtest"
)

// TestStoredTraceHeaderNamesTheClaimSubsegment: downstream handlers continue
// the scan's trace under a subsegment the scan recorded itself (documented
// propagation), not under the function segment Lambda records.
func TestStoredTraceHeaderNamesTheClaimSubsegment(t *testing.T) {
	daemon := tracingtest.Listen(t)
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.Addr())
	tracing.Setup(slog.New(slog.DiscardHandler))
	invoked := tracing.NewHeader(time.Now())

	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	ctx := tracingtest.Invocation(context.Background(), invoked.String())
	if _, err := r.h.Scan(ctx, testRef(t, "team/app", "v1")); err != nil {
		t.Fatal(err)
	}
	stored, err := tracing.ParseHeader(r.store.Record(testDigest).TraceHeader)
	if err != nil {
		t.Fatal(err)
	}
	if stored.TraceID != invoked.TraceID || stored.ParentID == invoked.ParentID || !stored.Sampled {
		t.Fatalf("stored header %+v; want the invocation's trace %s with a parent of the scan's own", stored, invoked.TraceID)
	}
	docs := daemon.Wait(t, 5*time.Second, "the cache claim subsegment", func(docs []tracingtest.Document) bool {
		for _, d := range tracingtest.InTrace(docs, invoked.TraceID) {
			if d.Name == "cache claim" {
				return true
			}
		}
		return false
	})
	for _, d := range tracingtest.InTrace(docs, invoked.TraceID) {
		if d.Name == "cache claim" && d.ID != stored.ParentID {
			t.Errorf("stored parent %s is not the cache claim subsegment %s", stored.ParentID, d.ID)
		}
	}
}

func TestUntracedScanStoresTheInvocationsHeader(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	unsampled := tracing.NewHeader(time.Now())
	unsampled.Sampled = false
	ctx := tracingtest.Invocation(context.Background(), unsampled.String())
	if _, err := r.h.Scan(ctx, testRef(t, "team/app", "v1")); err != nil {
		t.Fatal(err)
	}
	if got := r.store.Record(testDigest).TraceHeader; got != unsampled.String() {
		t.Errorf("stored %q, want the unsampled invocation header %q as given", got, unsampled.String())
	}
}
