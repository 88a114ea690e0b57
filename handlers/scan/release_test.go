package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
)

var errThrottled = errors.New("ProvisionedThroughputExceededException: rate of requests exceeds the allowed throughput")

// failWritesOnceScanned makes the store refuse the next n writes once
// QScanner has run for the first time: the claim lands, the writes after
// the scan do not. Later runs write as usual.
func failWritesOnceScanned(r *rig, n int) {
	orig := r.h.scanner
	first := true
	r.h.scanner = scannerFunc(func(ctx context.Context, tg domain.ScanTarget) (*domain.Report, error) {
		if first {
			first = false
			r.store.FailNextWrites(n, errThrottled)
		}
		return orig.Scan(ctx, tg)
	})
}

// completions counts the ScanCompleted events written for the digest: the
// events downstream handlers would act on.
func completions(r *rig, d domain.Digest) int {
	n := 0
	for _, w := range r.store.Writes() {
		if w.Digest == d && w.Event.Type == domain.EventScanCompleted {
			n++
		}
	}
	return n
}

func TestFailedFinalWriteIsRecordedByTheRetryFromTheStoredReport(t *testing.T) {
	tests := []struct {
		name    string
		request string
		tag     string
	}{
		{"the retry of the same message", "msg-1", "v1"},
		{"another push of the digest", "msg-2", "v2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
			failWritesOnceScanned(r, 1)
			ref := testRef(t, "team/app", "v1")
			out, err := r.h.Scan(withRequest(context.Background(), "msg-1"), ref)
			if err == nil || consume.IsPermanent(err) || !errors.Is(err, errThrottled) {
				t.Fatalf("Scan = %q, %v; want a retryable error naming the failed write", out, err)
			}
			rec := r.store.Record(ref.Digest)
			if rec.Status != domain.StatusScanning || rec.Lease != nil || rec.Stored == nil || rec.Event.Type != domain.EventScanRetrying {
				t.Fatalf("after the failed write: status %s lease %+v stored %+v event %s; want SCANNING, no lease, the stored report, ScanRetrying",
					rec.Status, rec.Lease, rec.Stored, rec.Event.Type)
			}
			first := rec.ScanID

			r.clock = r.clock.Add(time.Minute) // the handler's own backoff
			out, err = r.h.Scan(withRequest(context.Background(), tc.request), testRef(t, "team/app", tc.tag))
			if err != nil || out != OutcomeScanned {
				t.Fatalf("retry: Scan = %q, %v; want scanned", out, err)
			}
			rec = r.store.Record(ref.Digest)
			if rec.Status != domain.StatusCompleted || rec.ScanID != first || rec.Report == nil || rec.Stored != nil {
				t.Errorf("record %s scan %s (first %s) report %+v stored %+v; want COMPLETED under the first scan", rec.Status, rec.ScanID, first, rec.Report, rec.Stored)
			}
			if _, err := r.reports.GetReport(context.Background(), *rec.Report); err != nil {
				t.Errorf("the recorded report is not the stored one: %v", err)
			}
			if n := r.scanner.runs.Load(); n != 1 {
				t.Errorf("QScanner ran %d times, want 1", n)
			}
			if n := completions(r, ref.Digest); n != 1 {
				t.Errorf("%d ScanCompleted events, want 1", n)
			}
		})
	}
}

// When the release cannot be written either, the lease runs on: the
// redelivery of the same message must not be taken for a duplicate, and
// another delivery takes over once the lease expired, recording the report
// the first attempt stored rather than scanning again.
func TestFailedReleaseIsRecoveredByALaterDelivery(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", "ecr-image-action-push.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		after   time.Duration
		message string
	}{
		{"the redelivery of the same message takes over at once", time.Minute, "msg-1"},
		{"another delivery takes over once the lease expired", 16 * time.Minute, "msg-2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
			failWritesOnceScanned(r, 2) // the final write and the release
			ctx := context.Background()
			if err := r.h.Handle(ctx, consume.Message{ID: "msg-1", Body: string(body)}); err == nil || consume.IsPermanent(err) {
				t.Fatalf("first delivery: Handle = %v; want a retryable error", err)
			}
			d := r.store.Writes()[0].Digest
			if rec := r.store.Record(d); rec.Lease == nil || rec.Status != domain.StatusScanning {
				t.Fatalf("lease %+v status %s; want the lease left behind", rec.Lease, rec.Status)
			}
			if err := r.h.Handle(ctx, consume.Message{ID: "msg-3", Body: string(body)}); err != nil {
				t.Fatalf("a duplicate while the lease runs: Handle = %v", err)
			}
			r.clock = r.clock.Add(tc.after)
			if err := r.h.Handle(ctx, consume.Message{ID: tc.message, Body: string(body)}); err != nil {
				t.Fatalf("later delivery: Handle = %v; want the scan recorded", err)
			}
			rec := r.store.Record(d)
			if rec.Status != domain.StatusCompleted || rec.Lease != nil || completions(r, d) != 1 {
				t.Errorf("status %s lease %+v, %d ScanCompleted events; want COMPLETED once", rec.Status, rec.Lease, completions(r, d))
			}
			// The taking-over attempt finds the first one's report where it
			// was stored, and records it: QScanner ran once.
			if n := r.scanner.runs.Load(); n != 1 {
				t.Errorf("QScanner ran %d times, want 1", n)
			}
		})
	}
}

func TestLostReplyOnTheFinalWriteSettlesTheScan(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	orig := r.h.scanner
	r.h.scanner = scannerFunc(func(ctx context.Context, tg domain.ScanTarget) (*domain.Report, error) {
		r.store.LoseNextReply()
		return orig.Scan(ctx, tg)
	})
	ref := testRef(t, "team/app", "v1")
	ctx := withRequest(context.Background(), "msg-1")
	if out, err := r.h.Scan(ctx, ref); err != nil || out != OutcomeScanned {
		t.Fatalf("Scan = %q, %v; want scanned: the write landed", out, err)
	}
	r.clock = r.clock.Add(time.Minute)
	if out, err := r.h.Scan(ctx, ref); err != nil || out != OutcomeDuplicate {
		t.Fatalf("redelivery: Scan = %q, %v; want duplicate", out, err)
	}
	if rec := r.store.Record(ref.Digest); rec.Status != domain.StatusCompleted {
		t.Errorf("status %s, want COMPLETED", rec.Status)
	}
	if n, c := r.scanner.runs.Load(), completions(r, ref.Digest); n != 1 || c != 1 {
		t.Errorf("QScanner ran %d times, %d ScanCompleted events; want 1 and 1", n, c)
	}
}

// An index recorded with its platform image's scan whose write fails hands
// that result on too: the retry records it, QScanner never runs.
func TestFailedReuseWriteIsRecordedByTheRetry(t *testing.T) {
	const childDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	child, err := domain.NewImageRef("123456789012", "us-east-1", "team/app", childDigest, "")
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	if out, err := r.h.Scan(context.Background(), child); err != nil || out != OutcomeScanned {
		t.Fatalf("platform image: Scan = %q, %v", out, err)
	}
	r.h.inspector = fakeInspector{info: domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/amd64"}, Children: map[string]domain.Digest{"linux/amd64": childDigest}}}
	index := testRef(t, "team/app", "v1")
	// The claim lands; the completion does not.
	orig := r.h.store
	r.h.store = &claimThenFail{ScanStore: orig, fail: func() { r.store.FailNextWrites(1, errThrottled) }}
	if _, err := r.h.Scan(context.Background(), index); !errors.Is(err, errThrottled) {
		t.Fatalf("index: Scan error %v; want the failed write", err)
	}
	r.h.store = orig
	r.clock = r.clock.Add(time.Minute)
	if out, err := r.h.Scan(context.Background(), index); err != nil || out != OutcomeScanned {
		t.Fatalf("retry: Scan = %q, %v; want scanned", out, err)
	}
	if n := r.scanner.runs.Load(); n != 1 {
		t.Errorf("QScanner ran %d times, want 1", n)
	}
	if ch, ix := r.store.Record(childDigest), r.store.Record(index.Digest); ix.Status != domain.StatusCompleted || ix.Report == nil || *ix.Report != *ch.Report || ix.ScanID != ch.ScanID {
		t.Errorf("index %s scan %s report %+v; want COMPLETED with the platform image's scan %s and report %+v", ix.Status, ix.ScanID, ix.Report, ch.ScanID, ch.Report)
	}
}

// claimThenFail calls fail once the first Update (the claim) returned.
type claimThenFail struct {
	domain.ScanStore
	fail    func()
	claimed bool
}

func (c *claimThenFail) Update(ctx context.Context, d domain.Digest, fn func(*domain.Scan) error) error {
	err := c.ScanStore.Update(ctx, d, fn)
	if !c.claimed {
		c.claimed = true
		c.fail()
	}
	return err
}

// TestCrashAfterTheUploadIsRecordedWithoutASecondRun: an attempt that died
// between storing its report and recording it leaves the scan running; the
// attempt that takes it over records that report, and runs QScanner only
// when what is stored is a failure's partial report or nothing.
func TestCrashAfterTheUploadIsRecordedWithoutASecondRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stored   func() *domain.Report
		failed   bool // stored as a failed scan's report (fail uploads those)
		wantRuns int32
	}{
		{name: "complete report stored", stored: sampleReport, wantRuns: 0},
		{name: "partial report stored", stored: func() *domain.Report { r := sampleReport(); r.Partial = true; return r }, wantRuns: 1},
		// QScanner's policy deny (exit 42) gives a full report and a
		// failure; the attempt died before recording the failure.
		{name: "a failed scan's full report stored", stored: sampleReport, failed: true, wantRuns: 1},
		{name: "nothing stored", stored: func() *domain.Report { return nil }, wantRuns: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
			ctx := context.Background()
			ref := testRef(t, "team/app", "v1")
			var dead string
			err := r.store.Update(ctx, ref.Digest, func(s *domain.Scan) error {
				_, err := s.Claim(domain.Claim{Ref: ref, Owner: "dead-invocation", Now: r.clock, LeaseUntil: r.clock.Add(15 * time.Minute), MaxAttempts: 3})
				dead = s.ScanID()
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep := tc.stored(); rep != nil {
				rep.Digest = ref.Digest
				id := dead
				if tc.failed {
					id = failedReportID(dead)
				}
				if _, err := r.reports.PutReport(ctx, id, rep); err != nil {
					t.Fatal(err)
				}
			}
			r.clock = r.clock.Add(16 * time.Minute)
			if out, err := r.h.Scan(ctx, ref); err != nil || out != OutcomeScanned {
				t.Fatalf("Scan = %q, %v; want scanned", out, err)
			}
			rec := r.store.Record(ref.Digest)
			if rec.Status != domain.StatusCompleted || rec.Report == nil {
				t.Fatalf("status %s report %+v; want COMPLETED with a report", rec.Status, rec.Report)
			}
			if n := r.scanner.runs.Load(); n != tc.wantRuns {
				t.Errorf("QScanner ran %d times, want %d", n, tc.wantRuns)
			}
			if tc.wantRuns == 0 && !strings.Contains(rec.Report.Key, dead) {
				t.Errorf("recorded report %s, want the dead attempt's (%s)", rec.Report.Key, dead)
			}
		})
	}
}
