package consume

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/tracing"
	"ecrscanner/infra/tracing/tracingtest"
)

const traceTestDigest = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"

func traceEvent(t *testing.T, header string) events.ScanEvent {
	t.Helper()
	var refs []domain.ImageRef
	for _, repo := range []string{"team/app", "team/mirror"} {
		ref, err := domain.NewImageRef("123456789012", "us-east-1", repo, traceTestDigest, "v1")
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	return events.ScanEvent{
		SchemaVersion: events.SchemaVersion, EventID: "evt-" + domain.NewID(), EventType: domain.EventScanCompleted,
		ScanID: "scan-1", Digest: refs[0].Digest, Ref: refs[0], References: refs, TraceHeader: header,
	}
}

func TestTrace(t *testing.T) {
	daemon := tracingtest.Listen(t)
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.Addr())
	tracing.Setup(slog.New(slog.DiscardHandler))

	sampled := func() tracing.Header { return tracing.NewHeader(time.Now()) }
	unsampled := sampled()
	unsampled.Sampled = false
	tests := []struct {
		name     string
		header   string
		replayID string
		// handle is the handler's work; it opens a span of its own to show
		// that the context it gets carries the segment.
		handle    func(ctx context.Context) error
		wantErr   bool
		wantPanic bool
		// wantSegment: a segment is expected, with these flags.
		wantSegment          bool
		wantFault, wantError bool
	}{
		{name: "sampled", header: sampled().String(), handle: work(nil), wantSegment: true},
		{name: "replay", header: sampled().String(), replayID: "archive:rerun-1", handle: work(nil), wantSegment: true},
		{name: "retryable failure is a fault", header: sampled().String(), handle: work(errors.New("S3 unavailable")), wantErr: true, wantSegment: true, wantFault: true},
		{name: "permanent failure is an error", header: sampled().String(), handle: work(Permanent(errors.New("report missing"))), wantErr: true, wantSegment: true, wantError: true},
		{name: "panic is a fault and goes on up", header: sampled().String(), handle: func(context.Context) error { panic("boom") }, wantPanic: true, wantSegment: true, wantFault: true},
		{name: "no header", header: "", handle: work(nil)},
		{name: "unsampled", header: unsampled.String(), handle: work(nil)},
		{name: "garbled header", header: "Root=nonsense;Sampled=1", handle: work(errors.New("still reported")), wantErr: true},
	}
	// Each sampled case has a trace of its own; the others must send nothing.
	wantTraces := map[string]int{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := traceEvent(t, tc.header)
			ev.ReplayID = tc.replayID
			called := false
			h := Trace("archive")(func(ctx context.Context, got events.ScanEvent) error {
				called = true
				if got.EventID != ev.EventID {
					t.Errorf("handler got event %s, want %s", got.EventID, ev.EventID)
				}
				return tc.handle(ctx)
			})
			var err error
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				err = h(context.Background(), ev)
				return false
			}()
			if !called || panicked != tc.wantPanic || (err != nil) != tc.wantErr {
				t.Fatalf("called %v panicked %v err %v; want a call, panic %v, error %v", called, panicked, err, tc.wantPanic, tc.wantErr)
			}
			if !tc.wantSegment {
				return
			}
			hdr, _ := tracing.ParseHeader(tc.header)
			wantTraces[hdr.TraceID] = 1
			docs := daemon.Wait(t, 5*time.Second, "the archive segment", func(docs []tracingtest.Document) bool {
				return len(tracingtest.InTrace(docs, hdr.TraceID)) > 0
			})
			seg := tracingtest.InTrace(docs, hdr.TraceID)[0]
			if seg.Name != "archive" || seg.Type != "" || seg.ParentID != hdr.ParentID {
				t.Errorf("%q type %q parent %s; want segment archive under %s", seg.Name, seg.Type, seg.ParentID, hdr.ParentID)
			}
			want := map[string]string{"handler": "archive", "event_id": ev.EventID, "scan_id": "scan-1", "image_digest": traceTestDigest, "repository": "team/app", "replay_id": tc.replayID}
			for k, v := range want {
				if got := seg.Annotation(k); got != v {
					t.Errorf("annotation %s = %q, want %q", k, got, v)
				}
			}
			if seg.Fault != tc.wantFault || seg.Error != tc.wantError {
				t.Errorf("fault %v error %v; want %v %v", seg.Fault, seg.Error, tc.wantFault, tc.wantError)
			}
			if !tc.wantPanic {
				if _, ok := seg.Find("work"); !ok {
					t.Errorf("the handler's own span is not inside the segment:\n%s", tracingtest.Tree(docs))
				}
			}
		})
	}
	// Datagrams from this process arrive in order: once the sentinel is in,
	// everything the cases sent is too.
	sentinel := sampled()
	_, span := tracing.Continue(context.Background(), "sentinel", sentinel.String())
	span.End(nil)
	wantTraces[sentinel.TraceID] = 1
	docs := daemon.Wait(t, 5*time.Second, "the sentinel", func(docs []tracingtest.Document) bool {
		return len(tracingtest.InTrace(docs, sentinel.TraceID)) > 0
	})
	got := map[string]int{}
	for _, d := range docs {
		got[d.TraceID]++
	}
	if len(got) != len(wantTraces) {
		t.Errorf("documents in %d traces, want %d (one per sampled case and the sentinel):\n%s", len(got), len(wantTraces), tracingtest.Tree(docs))
	}
	for id, n := range got {
		if wantTraces[id] != n {
			t.Errorf("trace %s: %d documents, want %d", id, n, wantTraces[id])
		}
	}
}

// work is a handler body that records a span of its own and returns err.
func work(err error) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, span := tracing.Start(ctx, "work")
		span.End(err)
		return err
	}
}

// TestTraceRecordsInTheInvocationsOwnTraceToo: the handler's own invocation
// trace always holds a subsegment that names the scan, and the scan's trace
// is joined only while X-Ray still accepts segments for it; past that, the
// own subsegment links to it by annotation.
func TestTraceRecordsInTheInvocationsOwnTraceToo(t *testing.T) {
	daemon := tracingtest.Listen(t)
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.Addr())
	tracing.Setup(slog.New(slog.DiscardHandler))

	tests := []struct {
		name       string
		scanAge    time.Duration
		wantJoined bool
	}{
		{name: "fresh scan trace is joined", scanAge: time.Minute, wantJoined: true},
		{name: "a month-old scan trace is linked, not joined", scanAge: 30 * 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			own := tracing.NewHeader(time.Now())
			scan := tracing.NewHeader(time.Now().Add(-tc.scanAge))
			ev := traceEvent(t, scan.String())
			h := Trace("archive")(func(ctx context.Context, _ events.ScanEvent) error { return work(nil)(ctx) })
			if err := h(tracingtest.Invocation(context.Background(), own.String()), ev); err != nil {
				t.Fatal(err)
			}
			docs := daemon.Wait(t, 5*time.Second, "the own subsegment (and the joined segment)", func(docs []tracingtest.Document) bool {
				return len(tracingtest.InTrace(docs, own.TraceID)) > 0 && (!tc.wantJoined || len(tracingtest.InTrace(docs, scan.TraceID)) > 0)
			})
			mine := tracingtest.InTrace(docs, own.TraceID)[0]
			if mine.Name != "archive" || mine.Type != "subsegment" || mine.ParentID != own.ParentID {
				t.Fatalf("own trace holds %q type %q under %s; want subsegment archive under the invocation %s", mine.Name, mine.Type, mine.ParentID, own.ParentID)
			}
			if mine.Annotation("scan_id") != "scan-1" || mine.Annotation("event_id") != ev.EventID {
				t.Errorf("own subsegment annotations %v; want scan_id and event_id", mine.Annotations)
			}
			joined := tracingtest.InTrace(docs, scan.TraceID)
			if tc.wantJoined {
				if len(joined) != 1 || joined[0].ParentID != scan.ParentID || joined[0].Annotation("scan_id") != "scan-1" {
					t.Fatalf("scan trace holds %d documents; want one archive segment under %s:\n%s", len(joined), scan.ParentID, tracingtest.Tree(daemon.Documents()))
				}
				if _, ok := joined[0].Find("work"); !ok {
					t.Errorf("the work is not inside the joined segment:\n%s", tracingtest.Tree(daemon.Documents()))
				}
				return
			}
			if len(joined) != 0 {
				t.Errorf("%d documents sent into a trace X-Ray no longer accepts", len(joined))
			}
			if got := mine.Annotation("scan_trace_id"); got != scan.TraceID {
				t.Errorf("scan_trace_id = %q, want %s", got, scan.TraceID)
			}
			if _, ok := mine.Find("work"); !ok {
				t.Errorf("the work is not inside the own subsegment:\n%s", tracingtest.Tree(docs))
			}
		})
	}
}
