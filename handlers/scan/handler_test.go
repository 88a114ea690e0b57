package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/metrics"
	"ecrscanner/infra/ops/testkit"
)

const testDigest = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"

func testRef(t *testing.T, repo, tag string) domain.ImageRef {
	t.Helper()
	ref, err := domain.NewImageRef("123456789012", "us-east-1", repo, testDigest, tag)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func sampleReport() *domain.Report {
	return &domain.Report{
		QScannerVersion: "4.8.0",
		Vulnerabilities: []domain.Vulnerability{
			{QID: "1", Severity: domain.SeverityCritical, Packages: []domain.Package{{Name: "openssl", FixedVersion: "3.0.8"}}},
			{QID: "2", Severity: domain.SeverityHigh},
			{QID: "3", Severity: domain.SeverityLow},
		},
		Secrets: []domain.Secret{{RuleID: "aws-access-key-id", Severity: domain.SeverityCritical, File: "/app/.env"}},
	}
}

type rig struct {
	h       *Handler
	store   *testkit.MemoryScanStore
	reports *testkit.MemoryReportStore
	scanner *fakeScanner
	clock   time.Time
}

func newRig(t *testing.T, scanner *fakeScanner, info domain.ImageInfo) *rig {
	t.Helper()
	r := &rig{store: testkit.NewMemoryScanStore(), reports: testkit.NewMemoryReportStore(), scanner: scanner, clock: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	h, err := NewHandler(r.store, r.reports, fakeInspector{info: info}, scanner,
		Config{CacheTTL: 30 * 24 * time.Hour, MaxAttempts: 3, Platforms: []string{"linux/amd64"}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h.now = func() time.Time { return r.clock }
	h.metrics = metrics.NewPublisher(io.Discard, "")
	r.h = h
	return r
}

var imageInfo = domain.ImageInfo{Kind: domain.ArtifactImage, MediaType: "application/vnd.oci.image.manifest.v1+json"}

func TestFirstPushScansAndRecordsCompletion(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	out, err := r.h.Scan(context.Background(), testRef(t, "team/app", "v1"))
	if err != nil || out != OutcomeScanned {
		t.Fatalf("Scan = %q, %v; want scanned", out, err)
	}
	rec := r.store.Record(testDigest)
	if rec.Status != domain.StatusCompleted || rec.Event.Type != domain.EventScanCompleted {
		t.Fatalf("record status %s event %s, want COMPLETED/ScanCompleted", rec.Status, rec.Event.Type)
	}
	if rec.Summary == nil || rec.Summary.Vulnerabilities.Critical != 1 || rec.Summary.Vulnerabilities.High != 1 || rec.Summary.Secrets != 1 {
		t.Errorf("summary = %+v", rec.Summary)
	}
	if rec.Report == nil || !strings.Contains(rec.Report.Key, rec.ScanID) {
		t.Errorf("report pointer %+v does not name scan %s", rec.Report, rec.ScanID)
	}
	if want := r.clock.Add(30 * 24 * time.Hour).Unix(); rec.ExpiresAt != want {
		t.Errorf("ExpiresAt = %d, want %d (CacheTTL)", rec.ExpiresAt, want)
	}
	if rec.Event.Ref.Repository != "team/app" || rec.Lease != nil {
		t.Errorf("event ref %+v lease %+v", rec.Event.Ref, rec.Lease)
	}
}

func TestSameDigestElsewhereIsReferencedNotRescanned(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	ctx := context.Background()
	if _, err := r.h.Scan(ctx, testRef(t, "team/app", "v1")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ref  domain.ImageRef
		want Outcome
	}{
		{"another repository", testRef(t, "team/other", "v1"), OutcomeCached},
		{"another tag", testRef(t, "team/app", "latest"), OutcomeCached},
		{"the same push again", testRef(t, "team/app", "v1"), OutcomeDuplicate},
		{"the new repository again", testRef(t, "team/other", "v1"), OutcomeDuplicate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := r.h.Scan(ctx, tc.ref)
			if err != nil || out != tc.want {
				t.Fatalf("Scan = %q, %v; want %q", out, err, tc.want)
			}
		})
	}
	if n := r.scanner.runs.Load(); n != 1 {
		t.Errorf("QScanner ran %d times, want 1", n)
	}
	rec := r.store.Record(testDigest)
	if len(rec.References) != 3 {
		t.Errorf("references = %d, want 3", len(rec.References))
	}
}

func TestCacheExpiryRescans(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	ctx := context.Background()
	if _, err := r.h.Scan(ctx, testRef(t, "team/app", "v1")); err != nil {
		t.Fatal(err)
	}
	r.clock = r.clock.Add(31 * 24 * time.Hour)
	if out, err := r.h.Scan(ctx, testRef(t, "team/app", "v2")); err != nil || out != OutcomeScanned {
		t.Fatalf("after TTL: Scan = %q, %v; want scanned", out, err)
	}
	if n := r.scanner.runs.Load(); n != 2 {
		t.Errorf("QScanner ran %d times, want 2", n)
	}
}

func TestConcurrentDeliveriesRunOneScan(t *testing.T) {
	const n = 50
	gate := make(chan struct{})
	r := newRig(t, &fakeScanner{report: sampleReport(), gate: gate}, imageInfo)
	ref := testRef(t, "team/app", "v1")

	var wg sync.WaitGroup
	outcomes := make(chan Outcome, n)
	others := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := r.h.Scan(context.Background(), ref)
			if err != nil {
				t.Errorf("Scan: %v", err)
			}
			outcomes <- out
			if out != OutcomeScanned {
				others <- struct{}{}
			}
		}()
	}
	// Hold the one scan until every other delivery has finished, so they all
	// meet a live lease.
	for i := 0; i < n-1; i++ {
		select {
		case <-others:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d duplicate deliveries finished while the scan ran", i, n-1)
		}
	}
	close(gate)
	wg.Wait()
	close(outcomes)
	counts := map[Outcome]int{}
	for o := range outcomes {
		counts[o]++
	}
	if r.scanner.runs.Load() != 1 || counts[OutcomeScanned] != 1 {
		t.Fatalf("QScanner runs = %d, outcomes %v; want exactly one scan", r.scanner.runs.Load(), counts)
	}
	if counts[OutcomeDuplicate]+counts[OutcomeInProgress] != n-1 {
		t.Errorf("outcomes %v", counts)
	}
}

func TestExpiredLeaseIsTakenOver(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	ref := testRef(t, "team/app", "v1")
	// A crashed invocation left a live-looking lease behind.
	if err := r.store.Update(context.Background(), ref.Digest, func(s *domain.Scan) error {
		_, err := s.Claim(domain.Claim{Ref: ref, Owner: "crashed", Now: r.clock, LeaseUntil: r.clock.Add(time.Minute)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := r.h.Scan(context.Background(), ref); err != nil || out != OutcomeDuplicate {
		t.Fatalf("within the lease: Scan = %q, %v; want duplicate", out, err)
	}
	r.clock = r.clock.Add(2 * time.Minute)
	if out, err := r.h.Scan(context.Background(), ref); err != nil || out != OutcomeScanned {
		t.Fatalf("after the lease: Scan = %q, %v; want scanned", out, err)
	}
	if rec := r.store.Record(ref.Digest); rec.Attempts != 2 || rec.Status != domain.StatusCompleted {
		t.Errorf("attempts %d status %s, want 2 COMPLETED", rec.Attempts, rec.Status)
	}
}

func TestScanFailures(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		partial     *domain.Report
		wantRetries int // deliveries that return an error before the failure is final
		wantClass   domain.FailureClass
		wantSummary bool
	}{
		{"timeout is retried then final", domain.Failure{Class: domain.FailureTimeout, Reason: "deadline"}, nil, 2, domain.FailureTimeout, false},
		{"image not found is final at once", domain.Failure{Class: domain.FailureImageNotFound, ExitCode: 6, Reason: "manifest unknown"}, nil, 0, domain.FailureImageNotFound, false},
		{"registry auth is final", domain.Failure{Class: domain.FailureRegistryAuth, ExitCode: 6}, nil, 0, domain.FailureRegistryAuth, false},
		{"qualys auth is final", domain.Failure{Class: domain.FailureQualysAuth, ExitCode: 1}, nil, 0, domain.FailureQualysAuth, false},
		{"partial report keeps what was found", domain.Failure{Class: domain.FailurePartialReport, ExitCode: 40}, &domain.Report{Partial: true, Secrets: []domain.Secret{{RuleID: "r", Severity: domain.SeverityHigh}}}, 2, domain.FailurePartialReport, true},
		{"policy deny", domain.Failure{Class: domain.FailurePolicyDeny, ExitCode: 42}, sampleReport(), 0, domain.FailurePolicyDeny, true},
		{"policy audit", domain.Failure{Class: domain.FailurePolicyAudit, ExitCode: 43}, sampleReport(), 0, domain.FailurePolicyAudit, true},
		{"unparseable output is retried", domain.Failure{Class: domain.FailureUnparseableOutput, Reason: "garbage"}, nil, 2, domain.FailureUnparseableOutput, false},
		{"an error that is not a Failure counts as a crash", errors.New("signal: killed"), nil, 2, domain.FailureCrashed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, &fakeScanner{report: tc.partial, err: tc.err}, imageInfo)
			ref := testRef(t, "team/app", "v1")
			for i := 0; i < tc.wantRetries; i++ {
				out, err := r.h.Scan(context.Background(), ref)
				if err == nil || out != OutcomeRetrying || consume.IsPermanent(err) {
					t.Fatalf("delivery %d: Scan = %q, %v; want a retryable error", i+1, out, err)
				}
				if ev := r.store.Record(ref.Digest).Event.Type; ev != domain.EventScanRetrying {
					t.Fatalf("delivery %d: event %s, want ScanRetrying", i+1, ev)
				}
			}
			out, err := r.h.Scan(context.Background(), ref)
			if err != nil || out != OutcomeFailed {
				t.Fatalf("final delivery: Scan = %q, %v; want failed, no error", out, err)
			}
			rec := r.store.Record(ref.Digest)
			if rec.Event.Type != domain.EventScanFailed || rec.Failure == nil || rec.Failure.Class != tc.wantClass {
				t.Fatalf("event %s failure %+v, want ScanFailed %s", rec.Event.Type, rec.Failure, tc.wantClass)
			}
			if (rec.Summary != nil) != tc.wantSummary || (rec.Report != nil) != tc.wantSummary {
				t.Errorf("summary %v report %v, want present=%v", rec.Summary, rec.Report, tc.wantSummary)
			}
			if rec.Lease != nil {
				t.Error("lease still held after a final failure")
			}
		})
	}
}

func TestReportUploadFailureReleasesTheLease(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	r.reports.FailPut(errors.New("s3 unavailable"))
	out, err := r.h.Scan(context.Background(), testRef(t, "team/app", "v1"))
	if err == nil || out != OutcomeRetrying {
		t.Fatalf("Scan = %q, %v; want retrying", out, err)
	}
	rec := r.store.Record(testDigest)
	if rec.Lease != nil || rec.Failure == nil || rec.Failure.Class != domain.FailureInternal {
		t.Errorf("lease %+v failure %+v; want released lease and an internal failure", rec.Lease, rec.Failure)
	}
}

func TestArtifactsAreNotScanned(t *testing.T) {
	for _, kind := range []domain.ArtifactKind{domain.ArtifactSignature, domain.ArtifactSBOM, domain.ArtifactAttestation, domain.ArtifactReferrer, domain.ArtifactOther} {
		t.Run(string(kind), func(t *testing.T) {
			r := newRig(t, &fakeScanner{report: sampleReport()}, domain.ImageInfo{Kind: kind})
			out, err := r.h.Scan(context.Background(), testRef(t, "team/app", "sig"))
			if err != nil || out != OutcomeSkipped {
				t.Fatalf("Scan = %q, %v; want skipped", out, err)
			}
			if r.scanner.runs.Load() != 0 || len(r.store.Writes()) != 0 {
				t.Errorf("runs %d writes %d, want none", r.scanner.runs.Load(), len(r.store.Writes()))
			}
		})
	}
}

func TestIndexScansTheConfiguredPlatform(t *testing.T) {
	sc := &fakeScanner{report: sampleReport(), platforms: make(chan string, 1)}
	r := newRig(t, sc, domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/arm64", "linux/amd64"}})
	if out, err := r.h.Scan(context.Background(), testRef(t, "team/app", "v1")); err != nil || out != OutcomeScanned {
		t.Fatalf("Scan = %q, %v", out, err)
	}
	if p := <-sc.platforms; p != "linux/amd64" {
		t.Errorf("scanned platform %q, want linux/amd64", p)
	}
	if rec := r.store.Record(testDigest); rec.Platform != "linux/amd64" {
		t.Errorf("recorded platform %q", rec.Platform)
	}

	r = newRig(t, &fakeScanner{report: sampleReport()}, domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/s390x"}})
	if out, err := r.h.Scan(context.Background(), testRef(t, "team/app", "v1")); err != nil || out != OutcomeFailed {
		t.Fatalf("no matching platform: Scan = %q, %v; want failed", out, err)
	}
	if f := r.store.Record(testDigest).Failure; f == nil || !strings.Contains(f.Reason, "linux/s390x") {
		t.Errorf("failure %+v should name the platforms the index has", f)
	}
}

func TestEventsFromFixtures(t *testing.T) {
	tests := []struct {
		file      string
		want      Outcome
		permanent bool
	}{
		{"ecr-image-action-push.json", OutcomeScanned, false},
		{"cloudtrail-putimage.json", OutcomeScanned, false},
		{"ecr-image-action-push-failure.json", OutcomeSkipped, false},
		{"ecr-image-action-delete.json", OutcomeSkipped, false},
		{"cloudtrail-putimage-error.json", OutcomeSkipped, false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
			out, err := r.h.HandlePush(context.Background(), body)
			if err != nil || out != tc.want {
				t.Fatalf("HandlePush = %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}

func TestInvalidEventIsRejectedPermanently(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	for name, body := range map[string]string{
		"not json":     "{",
		"bad digest":   `{"version":"0","id":"1","detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012","time":"2026-11-25T12:00:00Z","region":"us-east-1","detail":{"result":"SUCCESS","repository-name":"app","image-digest":"sha256:XYZ","action-type":"PUSH","image-tag":"v1"}}`,
		"path in repo": `{"version":"0","id":"1","detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012","time":"2026-11-25T12:00:00Z","region":"us-east-1","detail":{"result":"SUCCESS","repository-name":"../../etc","image-digest":"` + testDigest + `","action-type":"PUSH","image-tag":"v1"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			err := r.h.Handle(context.Background(), consume.Message{ID: "m1", Body: body})
			if !consume.IsPermanent(err) || !errors.Is(err, domain.ErrInvalid) && name != "not json" {
				t.Fatalf("Handle = %v; want a permanent invalid-event error", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("reason spans lines: %q", err)
			}
		})
	}
	if r.scanner.runs.Load() != 0 {
		t.Error("QScanner ran for an invalid event")
	}
}

func TestCrashLoopEndsInScanFailed(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	ref := testRef(t, "team/app", "v1")
	// Three invocations in a row died holding the lease.
	for i := 0; i < 3; i++ {
		if err := r.store.Update(context.Background(), ref.Digest, func(s *domain.Scan) error {
			_, err := s.Claim(domain.Claim{Ref: ref, Owner: fmt.Sprintf("crashed-%d", i), Now: r.clock, LeaseUntil: r.clock.Add(time.Minute)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		r.clock = r.clock.Add(2 * time.Minute)
	}
	out, err := r.h.Scan(context.Background(), ref)
	if err != nil || out != OutcomeFailed {
		t.Fatalf("Scan = %q, %v; want failed", out, err)
	}
	rec := r.store.Record(ref.Digest)
	if rec.Event.Type != domain.EventScanFailed || rec.Failure == nil || rec.Failure.Class != domain.FailureCrashed || rec.Lease != nil {
		t.Errorf("event %s failure %+v lease %+v; want ScanFailed, crashed, no lease", rec.Event.Type, rec.Failure, rec.Lease)
	}
	if r.scanner.runs.Load() != 0 {
		t.Errorf("QScanner ran %d times after the attempts were used up", r.scanner.runs.Load())
	}
}

// The dashboard's metrics come from these EMF lines, written beside the
// logger: with the logger at ERROR (ApplicationLogLevel raised), they are all
// still there.
func TestScanPublishesTheDashboardMetrics(t *testing.T) {
	var buf, logs strings.Builder
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	r.h.logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
	r.h.metrics = metrics.NewPublisher(&buf, "ERROR")
	if _, err := r.h.Scan(context.Background(), testRef(t, "team/app", "v1")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.h.Scan(context.Background(), testRef(t, "team/other", "v1")); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		aws, _ := rec["_aws"].(map[string]any)
		if cw, _ := aws["CloudWatchMetrics"].([]any); len(cw) != 1 {
			t.Fatalf("not an EMF line: %s", line)
		}
		if rec["level"] != "ERROR" {
			t.Errorf("level %v: Lambda would drop the line at ERROR", rec["level"])
		}
		for _, name := range []string{"ScanCompleted", "CacheHit", "FindingsCritical", "FindingsHigh", "Secrets", "ScanDurationMs"} {
			if v, ok := rec[name].(float64); ok {
				got[name] += v
			}
		}
	}
	want := map[string]float64{"ScanCompleted": 1, "CacheHit": 1, "FindingsCritical": 1, "FindingsHigh": 1, "Secrets": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("metric %s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["ScanDurationMs"]; !ok {
		t.Error("no ScanDurationMs")
	}
}

func TestRetryableFailureSurvivesALostReply(t *testing.T) {
	r := newRig(t, &fakeScanner{err: domain.Failure{Class: domain.FailureTimeout, Reason: "deadline"}}, imageInfo)
	ref := testRef(t, "team/app", "v1")
	// Claim normally, then lose the reply of the Fail write: the claim's
	// write must not be doubled, so the loss is armed once the scan runs.
	orig := r.h.scanner
	r.h.scanner = scannerFunc(func(ctx context.Context, tg domain.ScanTarget) (*domain.Report, error) {
		r.store.LoseNextReply()
		return orig.Scan(ctx, tg)
	})
	out, err := r.h.Scan(context.Background(), ref)
	if err == nil || out != OutcomeRetrying {
		t.Fatalf("Scan = %q, %v; want a retry despite the lost reply", out, err)
	}
	if rec := r.store.Record(ref.Digest); rec.Event.Type != domain.EventScanRetrying {
		t.Errorf("event %s, want ScanRetrying", rec.Event.Type)
	}
}

type scannerFunc func(context.Context, domain.ScanTarget) (*domain.Report, error)

func (f scannerFunc) Scan(ctx context.Context, t domain.ScanTarget) (*domain.Report, error) {
	return f(ctx, t)
}

// A multi-platform push pushes each platform image first, then the index:
// the index is recorded with its platform image's scan, not scanned again.
func TestIndexReusesItsPlatformImageScan(t *testing.T) {
	const childDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	child, err := domain.NewImageRef("123456789012", "us-east-1", "team/app", childDigest, "")
	if err != nil {
		t.Fatal(err)
	}
	index := testRef(t, "team/app", "v1")
	indexInfo := domain.ImageInfo{Kind: domain.ArtifactIndex, Platforms: []string{"linux/amd64", "linux/arm64"},
		Children: map[string]domain.Digest{"linux/amd64": childDigest, "linux/arm64": "sha256:2222222222222222222222222222222222222222222222222222222222222222"}}

	t.Run("platform image scanned: reused", func(t *testing.T) {
		r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
		if out, err := r.h.Scan(context.Background(), child); err != nil || out != OutcomeScanned {
			t.Fatalf("platform image: Scan = %q, %v", out, err)
		}
		r.h.inspector = fakeInspector{info: indexInfo}
		out, err := r.h.Scan(context.Background(), index)
		if err != nil || out != OutcomeCached {
			t.Fatalf("index: Scan = %q, %v; want cached", out, err)
		}
		if n := r.scanner.runs.Load(); n != 1 {
			t.Errorf("QScanner ran %d times for one content, want 1", n)
		}
		ch, ix := r.store.Record(childDigest), r.store.Record(index.Digest)
		if ix.Status != domain.StatusCompleted || ix.Event.Type != domain.EventScanCompleted || ix.ScanID != ch.ScanID || *ix.Report != *ch.Report {
			t.Errorf("index record %+v does not carry the platform image's scan %s", ix, ch.ScanID)
		}
	})
	t.Run("platform image still scanning: wait", func(t *testing.T) {
		r := newRig(t, &fakeScanner{report: sampleReport()}, indexInfo)
		if err := r.store.Update(context.Background(), childDigest, func(s *domain.Scan) error {
			_, err := s.Claim(domain.Claim{Ref: child, Owner: "other", Now: r.clock, LeaseUntil: r.clock.Add(time.Minute)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		out, err := r.h.Scan(context.Background(), index)
		if err == nil || out != OutcomeWaiting || consume.IsPermanent(err) {
			t.Fatalf("Scan = %q, %v; want a retryable wait", out, err)
		}
		if r.scanner.runs.Load() != 0 || r.store.Record(index.Digest).Version != 0 {
			t.Error("the index was claimed or scanned while its platform image was being scanned")
		}
	})
	t.Run("platform image never pushed alone: the index is scanned", func(t *testing.T) {
		r := newRig(t, &fakeScanner{report: sampleReport()}, indexInfo)
		if out, err := r.h.Scan(context.Background(), index); err != nil || out != OutcomeScanned {
			t.Fatalf("Scan = %q, %v; want scanned", out, err)
		}
	})
}
