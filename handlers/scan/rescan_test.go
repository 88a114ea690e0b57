package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/mototest"
)

func requestBody(t *testing.T, m events.ScanRequestMessage) []byte {
	t.Helper()
	b, err := m.Body()
	if err != nil {
		t.Fatal(err)
	}
	return []byte(b)
}

// 50 forced rescan requests of one digest, all at once, on the real claim
// path (moto's DynamoDB): one QScanner run. The first claim's lease makes
// the others join it; those that arrive after it completed find a scan that
// started after they were made, which satisfies them. The rescan keeps the
// previous scan and carries what changed (the stand-in, told by
// QSCANNER_STANDIN_VARY, reports different findings on its second run).
func TestFiftyConcurrentRescanRequestsRunQScannerOnce(t *testing.T) {
	st := newStack(t, "slow", 5)
	t.Setenv("QSCANNER_STANDIN_VARY", t.TempDir())
	ctx := context.Background()
	ref := st.push(t, mototest.UniqueName("team/rescan"), "v1", "rescan")
	if out, err := st.h.Scan(ctx, ref); err != nil || out != OutcomeScanned {
		t.Fatalf("first scan = %q, %v", out, err)
	}
	first, _ := st.item(t, ref.Digest)
	requestedAt := time.Now()
	const n = 50
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = requestBody(t, events.NewScanRequest(domain.CauseManual, ref, "test", requestedAt, true))
	}
	var wg sync.WaitGroup
	outcomes, errs := make([]Outcome, n), make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i], errs[i] = st.h.HandlePush(ctx, bodies[i])
		}()
	}
	wg.Wait()
	scanned := 0
	for i, out := range outcomes {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
		}
		if out == OutcomeScanned {
			scanned++
		}
	}
	runs := st.runs(t)
	t.Logf("QScanner runs for a push then %d concurrent forced rescans of one digest: %d", n, runs)
	if runs != 2 || scanned != 1 {
		t.Fatalf("QScanner ran %d times (%d rescan requests scanned); want 2 (the push, then one rescan)", runs, scanned)
	}
	rec, _ := st.item(t, ref.Digest)
	if rec.Status != domain.StatusCompleted || rec.ScanID == first.ScanID || rec.Cause != domain.CauseManual || rec.RequestedBy != "test" {
		t.Fatalf("record after the rescan: status %s scan %s (first %s) cause %q by %q", rec.Status, rec.ScanID, first.ScanID, rec.Cause, rec.RequestedBy)
	}
	if rec.Previous == nil || rec.Previous.ScanID != first.ScanID || *rec.Previous.Report != *first.Report || rec.Report.Key == first.Report.Key {
		t.Errorf("previous %+v, report %+v; want the first scan %s, its report kept apart", rec.Previous, rec.Report, first.ScanID)
	}
	if _, err := st.h.reports.GetReport(ctx, *first.Report); err != nil {
		t.Errorf("the first scan's report is gone: %v", err)
	}
	c := rec.Changes
	if c == nil || c.NewVulnerabilities.Total() != 5 || c.NewVulnerabilities.Critical != 1 || c.NewVulnerabilities.High != 1 || c.FixedVuln.Total() != 2 || len(c.NewQIDs) != 5 {
		t.Fatalf("changes %+v; want 5 new (1 critical, 1 high) and 2 fixed", c)
	}
	// A redelivery of one of the requests, after its scan completed: no run.
	if out, err := st.h.HandlePush(ctx, bodies[7]); err != nil || out != OutcomeDuplicate {
		t.Errorf("redelivered request = %q, %v; want duplicate", out, err)
	}
	if runs := st.runs(t); runs != 2 {
		t.Errorf("a redelivered forced request ran QScanner again (%d runs)", runs)
	}
}

// A backfill request respects the cache: a digest with a fresh scan is not
// scanned again.
func TestBackfillRequestRespectsTheCache(t *testing.T) {
	st := newStack(t, "ok", 5)
	ctx := context.Background()
	ref := st.push(t, mototest.UniqueName("team/backfill"), "v1", "backfill")
	if out, err := st.h.HandlePush(ctx, requestBody(t, events.NewScanRequest(domain.CauseBackfill, ref, "test", time.Now(), false))); err != nil || out != OutcomeScanned {
		t.Fatalf("backfill of an unscanned image = %q, %v; want scanned", out, err)
	}
	if rec, _ := st.item(t, ref.Digest); rec.Cause != domain.CauseBackfill || rec.Event.Cause != domain.CauseBackfill {
		t.Errorf("cause %q, event cause %q; want backfill", rec.Cause, rec.Event.Cause)
	}
	if out, err := st.h.HandlePush(ctx, requestBody(t, events.NewScanRequest(domain.CauseBackfill, ref, "test", time.Now(), false))); err != nil || out != OutcomeDuplicate {
		t.Errorf("second backfill = %q, %v; want duplicate (cached)", out, err)
	}
	if runs := st.runs(t); runs != 1 {
		t.Errorf("QScanner ran %d times, want 1", runs)
	}
}

// A malformed scan request is refused for good, with its reason: the
// consumer parks it in the DLQ (consume.Permanent).
func TestMalformedScanRequestIsPermanent(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	body := `{"kind":"ecr-image-scanner.scan-request","version":1,"requestId":"r1","cause":"cron","ref":{"account":"1","region":"x","repository":"A","digest":"sha256:00"},"requestedAt":"2026-01-01T00:00:00Z"}`
	err := r.h.Handle(context.Background(), consume.Message{ID: "m1", Body: body})
	if err == nil || !consume.IsPermanent(err) || !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("HandlePush(malformed request) = %v; want a permanent invalid error", err)
	}
	for _, want := range []string{"cause", "ref:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if r.scanner.runs.Load() != 0 {
		t.Error("QScanner ran for a malformed request")
	}
}

// A forced rescan of an index runs QScanner: the completed scan of its
// platform image predates the request and does not serve it.
func TestForcedRescanOfAnIndexScansAgain(t *testing.T) {
	const childDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	child, err := domain.NewImageRef("123456789012", "us-east-1", "team/app", childDigest, "")
	if err != nil {
		t.Fatal(err)
	}
	index := testRef(t, "team/app", "v1")
	indexInfo := domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/amd64"}, Children: map[string]domain.Digest{"linux/amd64": childDigest}}
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	if out, err := r.h.Scan(context.Background(), child); err != nil || out != OutcomeScanned {
		t.Fatalf("platform image: Scan = %q, %v", out, err)
	}
	r.h.inspector = fakeInspector{info: indexInfo}
	if out, err := r.h.Scan(context.Background(), index); err != nil || out != OutcomeCached {
		t.Fatalf("index push: Scan = %q, %v; want cached (reused)", out, err)
	}
	r.clock = r.clock.Add(time.Hour)
	body := requestBody(t, events.NewScanRequest(domain.CauseManual, index, "test", r.clock, true))
	if out, err := r.h.HandlePush(context.Background(), body); err != nil || out != OutcomeScanned {
		t.Fatalf("forced rescan of the index = %q, %v; want scanned", out, err)
	}
	if n := r.scanner.runs.Load(); n != 2 {
		t.Errorf("QScanner ran %d times, want 2 (the platform image, then the forced rescan)", n)
	}
}

// A previous report that cannot be read does not fail the rescan: it
// completes without changes (the alert then judges its whole result) and
// the reason is logged as a warning.
func TestRescanWithUnreadablePreviousReport(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	var logs bytes.Buffer
	r.h.logger = slog.New(slog.NewJSONHandler(&logs, nil))
	ref := testRef(t, "team/app", "v1")
	if out, err := r.h.Scan(context.Background(), ref); err != nil || out != OutcomeScanned {
		t.Fatalf("first scan = %q, %v", out, err)
	}
	first := r.store.Record(ref.Digest)
	r.reports.FailGet(errors.New("access denied"))
	r.clock = r.clock.Add(time.Hour)
	if out, err := r.h.HandlePush(context.Background(), requestBody(t, events.NewScanRequest(domain.CauseManual, ref, "test", r.clock, true))); err != nil || out != OutcomeScanned {
		t.Fatalf("rescan = %q, %v; want scanned", out, err)
	}
	rec := r.store.Record(ref.Digest)
	if rec.Status != domain.StatusCompleted || rec.Changes != nil || rec.Previous == nil || rec.Previous.ScanID != first.ScanID {
		t.Errorf("record: status %s, changes %+v, previous %+v", rec.Status, rec.Changes, rec.Previous)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"previous report not readable; the rescan's changes are not computed"`) || !strings.Contains(logs.String(), "access denied") {
		t.Errorf("no warning with the reason in the log:\n%s", logs.String())
	}
}
