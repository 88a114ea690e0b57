package domain_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

const (
	leaseFor    = 15 * time.Minute
	cacheTTL    = 30 * 24 * time.Hour
	maxAttempts = 3
)

func claimBy(ref domain.ImageRef, owner string, now time.Time) domain.Claim {
	return domain.Claim{Ref: ref, Owner: owner, Now: now, LeaseUntil: now.Add(leaseFor), TraceHeader: "Root=1-" + owner}
}

// persist plays the store: it writes the record and reads it back, as the
// next invocation would see it.
func persist(s *domain.Scan) *domain.Scan { return domain.ScanFromRecord(s.Record()) }

func result(qid string) domain.ScanResult {
	return domain.ScanResult{
		Summary:         domain.Summary{Vulnerabilities: domain.Counts{Critical: 1}, Top: []domain.Vulnerability{{QID: qid, Severity: domain.SeverityCritical}}},
		Report:          domain.ReportLocation{Bucket: "reports", Key: "scans/" + qid + ".json"},
		Platform:        "linux/amd64",
		QScannerVersion: "4.8.0",
	}
}

// scanning returns a record just claimed by owner for ref.
func scanning(t *testing.T, ref domain.ImageRef, owner string, now time.Time) *domain.Scan {
	t.Helper()
	s := domain.NewScan(ref.Digest)
	dec, err := s.Claim(claimBy(ref, owner, now))
	if err != nil || dec != domain.DecideScan {
		t.Fatalf("first Claim = %v, %v; want scan, nil", dec, err)
	}
	return persist(s)
}

// completed returns a record scanned for ref and completed at now.
func completed(t *testing.T, ref domain.ImageRef, now time.Time) *domain.Scan {
	t.Helper()
	s := scanning(t, ref, "owner-a", now)
	if err := s.Complete("owner-a", result("1"), now.Add(time.Minute), cacheTTL); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	return persist(s)
}

func refList(s *domain.Scan) []domain.ImageRef {
	var out []domain.ImageRef
	for _, r := range s.References() {
		out = append(out, r.ImageRef)
	}
	return out
}

func TestClaimNewRecord(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := domain.NewScan(ref.Digest)
	if !s.IsNew() {
		t.Fatal("NewScan is not new")
	}
	dec, err := s.Claim(claimBy(ref, "owner-a", t0))
	if err != nil || dec != domain.DecideScan {
		t.Fatalf("Claim = %v, %v; want scan, nil", dec, err)
	}
	r := s.Record()
	if r.Status != domain.StatusScanning {
		t.Errorf("Status = %q, want SCANNING", r.Status)
	}
	if r.Lease == nil || r.Lease.Owner != "owner-a" || !r.Lease.Expires.Equal(t0.Add(leaseFor)) {
		t.Errorf("Lease = %+v, want owner-a until %v", r.Lease, t0.Add(leaseFor))
	}
	if r.Attempts != 1 {
		t.Errorf("Attempts = %d, want 1", r.Attempts)
	}
	if r.ScanID == "" {
		t.Error("no ScanID")
	}
	if r.StartedBy != ref || !r.StartedAt.Equal(t0) {
		t.Errorf("StartedBy, StartedAt = %+v, %v; want %+v, %v", r.StartedBy, r.StartedAt, ref, t0)
	}
	if e := r.Event; e.Type != domain.EventScanStarted || e.Ref != ref || e.ID == "" || !e.At.Equal(t0) {
		t.Errorf("Event = %+v, want ScanStarted for %+v at %v", e, ref, t0)
	}
	if got := refList(s); !reflect.DeepEqual(got, []domain.ImageRef{ref}) {
		t.Errorf("References = %+v, want [%+v]", got, ref)
	}
	if r.TraceHeader != "Root=1-owner-a" {
		t.Errorf("TraceHeader = %q", r.TraceHeader)
	}
	// A crashed scan's record must outlive its lease, or the table's TTL
	// could delete it while the lease still guards it.
	if r.ExpiresAt <= r.Lease.Expires.Unix() {
		t.Errorf("ExpiresAt %d is not after the lease %d", r.ExpiresAt, r.Lease.Expires.Unix())
	}
	if _, ok := s.Summary(); ok {
		t.Error("a scan in progress reports a summary")
	}
	if _, ok := s.ReportLocation(); ok {
		t.Error("a scan in progress reports a report location")
	}
}

func TestClaimWhileLeaseLive(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	otherTag := testkit.MustRef(t, "team/app", "v1-copy")
	otherRepo := testkit.MustRef(t, "other/app", "")
	later := t0.Add(leaseFor / 2)
	tests := []struct {
		name      string
		claim     domain.Claim
		want      domain.Decision
		wantErr   error
		wantEvent domain.EventType // "" when nothing is written
		wantRefs  []domain.ImageRef
		wantTry   int
	}{
		{
			name:     "redelivery of the same push",
			claim:    claimBy(ref, "owner-b", later),
			want:     domain.DecideSkip,
			wantErr:  domain.ErrUnchanged,
			wantRefs: []domain.ImageRef{ref},
			wantTry:  1,
		},
		{
			name:      "push of a new tag is queued",
			claim:     claimBy(otherTag, "owner-b", later),
			want:      domain.DecideSkip,
			wantEvent: domain.EventReferenceQueued,
			wantRefs:  []domain.ImageRef{ref, otherTag},
			wantTry:   1,
		},
		{
			name:      "push to another repository is queued",
			claim:     claimBy(otherRepo, "owner-b", later),
			want:      domain.DecideSkip,
			wantEvent: domain.EventReferenceQueued,
			wantRefs:  []domain.ImageRef{ref, otherRepo},
			wantTry:   1,
		},
		{
			// The store re-applies a claim whose write succeeded but whose
			// answer was lost: the owner must keep scanning, as one attempt.
			name:      "owner re-applies its own claim",
			claim:     claimBy(ref, "owner-a", t0.Add(time.Second)),
			want:      domain.DecideScan,
			wantEvent: domain.EventScanStarted,
			wantRefs:  []domain.ImageRef{ref},
			wantTry:   1,
		},
		{
			// Two pushes of one digest in one batch: one scan is enough.
			name:      "owner claims another reference",
			claim:     claimBy(otherTag, "owner-a", later),
			want:      domain.DecideSkip,
			wantEvent: domain.EventReferenceQueued,
			wantRefs:  []domain.ImageRef{ref, otherTag},
			wantTry:   1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scanning(t, ref, "owner-a", t0)
			before := s.Record()
			dec, err := s.Claim(tc.claim)
			if dec != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Claim = %v, %v; want %v, %v", dec, err, tc.want, tc.wantErr)
			}
			after := s.Record()
			if tc.wantEvent == "" {
				if !reflect.DeepEqual(after, before) {
					t.Errorf("record changed without a write:\n got %+v\nwant %+v", after, before)
				}
			} else {
				if after.Event.Type != tc.wantEvent || after.Event.Ref != tc.claim.Ref || after.Event.ID == before.Event.ID {
					t.Errorf("Event = %+v, want a new %s for %+v", after.Event, tc.wantEvent, tc.claim.Ref)
				}
			}
			if got := refList(s); !reflect.DeepEqual(got, tc.wantRefs) {
				t.Errorf("References = %+v, want %+v", got, tc.wantRefs)
			}
			// Whoever claims, the running scan stays the first owner's.
			if after.Status != domain.StatusScanning || after.Lease == nil || after.Lease.Owner != "owner-a" {
				t.Errorf("Status, Lease = %s, %+v; want SCANNING held by owner-a", after.Status, after.Lease)
			}
			if after.ScanID != before.ScanID || after.StartedBy != ref || !after.StartedAt.Equal(t0) {
				t.Errorf("scan changed: ScanID %s→%s, StartedBy %+v", before.ScanID, after.ScanID, after.StartedBy)
			}
			if after.Attempts != tc.wantTry {
				t.Errorf("Attempts = %d, want %d", after.Attempts, tc.wantTry)
			}
		})
	}
}

func TestClaimTakesOverExpiredLease(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := scanning(t, ref, "owner-a", t0)
	first := s.Record()
	afterLease := t0.Add(leaseFor + time.Second)

	dec, err := s.Claim(claimBy(ref, "owner-b", afterLease))
	if err != nil || dec != domain.DecideScan {
		t.Fatalf("Claim after the lease = %v, %v; want scan, nil", dec, err)
	}
	r := s.Record()
	if r.Lease == nil || r.Lease.Owner != "owner-b" || !r.Lease.Expires.Equal(afterLease.Add(leaseFor)) {
		t.Errorf("Lease = %+v, want owner-b's", r.Lease)
	}
	if r.Attempts != 2 {
		t.Errorf("Attempts = %d, want 2 (a crash counts as an attempt)", r.Attempts)
	}
	if r.ScanID == first.ScanID {
		t.Error("takeover kept the crashed scan's ID")
	}
	if r.Event.Type != domain.EventScanStarted || r.Event.ID == first.Event.ID {
		t.Errorf("Event = %+v, want a new ScanStarted", r.Event)
	}
	s = persist(s)

	// The stale holder wakes up: it must not record anything.
	stale := persist(s)
	staleBefore := stale.Record()
	if err := stale.Complete("owner-a", result("stale"), afterLease.Add(time.Minute), cacheTTL); !errors.Is(err, domain.ErrLeaseLost) {
		t.Errorf("stale Complete = %v, want ErrLeaseLost", err)
	}
	if _, err := stale.Fail("owner-a", domain.Failure{Class: domain.FailureTimeout}, nil, maxAttempts, afterLease.Add(time.Minute), cacheTTL); !errors.Is(err, domain.ErrLeaseLost) {
		t.Errorf("stale Fail = %v, want ErrLeaseLost", err)
	}
	if !reflect.DeepEqual(stale.Record(), staleBefore) {
		t.Error("a refused write changed the record")
	}

	if err := s.Complete("owner-b", result("new"), afterLease.Add(2*time.Minute), cacheTTL); err != nil {
		t.Fatalf("Complete by the new owner: %v", err)
	}
	s = persist(s)
	// Nor may it overwrite the newer scan's result once that is recorded.
	if err := s.Complete("owner-a", result("stale"), afterLease.Add(3*time.Minute), cacheTTL); !errors.Is(err, domain.ErrLeaseLost) {
		t.Errorf("stale Complete after completion = %v, want ErrLeaseLost", err)
	}
	if sum, _ := s.Summary(); len(sum.Top) != 1 || sum.Top[0].QID != "new" {
		t.Errorf("Summary = %+v, want the new owner's", sum)
	}
}

func TestComplete(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	queued := testkit.MustRef(t, "other/app", "latest")
	s := scanning(t, ref, "owner-a", t0)
	if _, err := s.Claim(claimBy(queued, "owner-b", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	s = persist(s)
	scanID := s.ScanID()
	done := t0.Add(5 * time.Minute)

	if err := s.Complete("owner-a", result("1"), done, cacheTTL); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	r := s.Record()
	if r.Status != domain.StatusCompleted || r.Lease != nil {
		t.Errorf("Status, Lease = %s, %+v; want COMPLETED, nil", r.Status, r.Lease)
	}
	// The last claim was the queued reference; the outcome belongs to the push
	// that started the scan.
	if r.Event.Type != domain.EventScanCompleted || r.Event.Ref != ref || !r.Event.At.Equal(done) {
		t.Errorf("Event = %+v, want ScanCompleted for %+v at %v", r.Event, ref, done)
	}
	if r.ExpiresAt != done.Add(cacheTTL).Unix() {
		t.Errorf("ExpiresAt = %d, want %d", r.ExpiresAt, done.Add(cacheTTL).Unix())
	}
	if !r.CompletedAt.Equal(done) || r.ScanID != scanID || r.Failure != nil || r.FinalFailure {
		t.Errorf("CompletedAt %v, ScanID %s, Failure %+v", r.CompletedAt, r.ScanID, r.Failure)
	}
	want := result("1")
	if sum, ok := s.Summary(); !ok || !reflect.DeepEqual(sum, want.Summary) {
		t.Errorf("Summary = %+v, %v; want %+v", sum, ok, want.Summary)
	}
	if loc, ok := s.ReportLocation(); !ok || loc != want.Report {
		t.Errorf("ReportLocation = %+v, %v; want %+v", loc, ok, want.Report)
	}
	if r.Platform != want.Platform || r.QScannerVersion != want.QScannerVersion {
		t.Errorf("Platform, QScannerVersion = %q, %q", r.Platform, r.QScannerVersion)
	}
	if got := refList(s); !reflect.DeepEqual(got, []domain.ImageRef{ref, queued}) {
		t.Errorf("References = %+v", got)
	}
}

func TestCompleteWithoutLease(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	tests := []struct {
		name  string
		scan  func(t *testing.T) *domain.Scan
		owner string
	}{
		{"never claimed", func(*testing.T) *domain.Scan { return domain.NewScan(ref.Digest) }, "owner-a"},
		{"held by another owner", func(t *testing.T) *domain.Scan { return scanning(t, ref, "owner-a", t0) }, "owner-b"},
		{"already completed", func(t *testing.T) *domain.Scan { return completed(t, ref, t0) }, "owner-a"},
		{"empty owner", func(t *testing.T) *domain.Scan { return scanning(t, ref, "owner-a", t0) }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.scan(t)
			before := s.Record()
			if err := s.Complete(tc.owner, result("x"), t0.Add(time.Minute), cacheTTL); !errors.Is(err, domain.ErrLeaseLost) {
				t.Errorf("Complete = %v, want ErrLeaseLost", err)
			}
			if _, err := s.Fail(tc.owner, domain.Failure{Class: domain.FailureCrashed}, nil, maxAttempts, t0.Add(time.Minute), cacheTTL); !errors.Is(err, domain.ErrLeaseLost) {
				t.Errorf("Fail = %v, want ErrLeaseLost", err)
			}
			if !reflect.DeepEqual(s.Record(), before) {
				t.Error("a refused write changed the record")
			}
		})
	}
}

func TestClaimCompleted(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	doneAt := t0.Add(time.Minute)
	inCache := t0.Add(24 * time.Hour)
	expired := doneAt.Add(cacheTTL + time.Second)
	tests := []struct {
		name      string
		claim     domain.Claim
		want      domain.Decision
		wantErr   error
		wantEvent domain.EventType
		wantRefs  int
	}{
		{"same push again", claimBy(ref, "owner-b", inCache), domain.DecideSkip, domain.ErrUnchanged, "", 1},
		{"new repository", claimBy(testkit.MustRef(t, "other/app", "v1"), "owner-b", inCache), domain.DecideReferenced, nil, domain.EventImageReferenced, 2},
		{"new tag", claimBy(testkit.MustRef(t, "team/app", "stable"), "owner-b", inCache), domain.DecideReferenced, nil, domain.EventImageReferenced, 2},
		{"untagged push of a tagged image", claimBy(testkit.MustRef(t, "team/app", ""), "owner-b", inCache), domain.DecideReferenced, nil, domain.EventImageReferenced, 2},
		{"cache expired, same push", claimBy(ref, "owner-b", expired), domain.DecideScan, nil, domain.EventScanStarted, 1},
		{"cache expired, new repository", claimBy(testkit.MustRef(t, "other/app", "v1"), "owner-b", expired), domain.DecideScan, nil, domain.EventScanStarted, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := completed(t, ref, t0)
			before := s.Record()
			dec, err := s.Claim(tc.claim)
			if dec != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Claim = %v, %v; want %v, %v", dec, err, tc.want, tc.wantErr)
			}
			after := s.Record()
			if len(after.References) != tc.wantRefs {
				t.Errorf("%d references, want %d", len(after.References), tc.wantRefs)
			}
			switch tc.want {
			case domain.DecideSkip:
				if !reflect.DeepEqual(after, before) {
					t.Error("record changed without a write")
				}
			case domain.DecideReferenced:
				if after.Event.Type != tc.wantEvent || after.Event.Ref != tc.claim.Ref || after.Event.ID == before.Event.ID {
					t.Errorf("Event = %+v, want ImageReferenced for %+v", after.Event, tc.claim.Ref)
				}
				if after.Status != domain.StatusCompleted || after.ScanID != before.ScanID || after.ExpiresAt != before.ExpiresAt {
					t.Error("a new reference changed the cached scan")
				}
				if !reflect.DeepEqual(after.Summary, before.Summary) || after.StartedBy != ref {
					t.Error("a new reference changed the cached result")
				}
				if after.TraceHeader != tc.claim.TraceHeader {
					t.Errorf("TraceHeader = %q, want the referencing push's %q", after.TraceHeader, tc.claim.TraceHeader)
				}
			case domain.DecideScan:
				if after.Event.Type != tc.wantEvent || after.Status != domain.StatusScanning || after.Attempts != 1 {
					t.Errorf("Event %s, Status %s, Attempts %d; want ScanStarted, SCANNING, 1", after.Event.Type, after.Status, after.Attempts)
				}
				if after.ScanID == before.ScanID || after.StartedBy != tc.claim.Ref {
					t.Error("a rescan kept the old scan's identity")
				}
				// The expired result must not pass for the new scan's.
				if after.Summary != nil || after.Report != nil || after.Platform != "" || after.QScannerVersion != "" {
					t.Errorf("a rescan kept the old result: %+v %+v", after.Summary, after.Report)
				}
				if !after.CompletedAt.IsZero() {
					t.Error("a rescan kept the old completion time")
				}
			}
		})
	}
}

func TestFailRetryThenFinal(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := scanning(t, ref, "owner-1", t0)
	now := t0
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		if s.Attempts() != attempt {
			t.Fatalf("attempt %d: Attempts = %d", attempt, s.Attempts())
		}
		owner := fmt.Sprintf("owner-%d", attempt)
		now = now.Add(time.Minute)
		f := domain.Failure{Class: domain.FailureTimeout, Reason: "deadline", ExitCode: 0}
		final, err := s.Fail(owner, f, nil, maxAttempts, now, cacheTTL)
		if err != nil {
			t.Fatalf("attempt %d: Fail: %v", attempt, err)
		}
		r := s.Record()
		wantFinal := attempt == maxAttempts
		if final != wantFinal || r.FinalFailure != wantFinal {
			t.Fatalf("attempt %d: final = %v (record %v), want %v", attempt, final, r.FinalFailure, wantFinal)
		}
		wantEvent := domain.EventScanRetrying
		if wantFinal {
			wantEvent = domain.EventScanFailed
		}
		if r.Event.Type != wantEvent || r.Event.Ref != ref {
			t.Errorf("attempt %d: Event = %+v, want %s for %+v", attempt, r.Event, wantEvent, ref)
		}
		if r.Status != domain.StatusFailed || r.Lease != nil || r.Failure == nil || *r.Failure != f {
			t.Errorf("attempt %d: Status %s, Lease %+v, Failure %+v", attempt, r.Status, r.Lease, r.Failure)
		}
		wantExpiry := now.Add(cacheTTL)
		if wantFinal {
			wantExpiry = now.Add(min(cacheTTL, domain.FailureCacheTTL))
		}
		if r.ExpiresAt != wantExpiry.Unix() {
			t.Errorf("attempt %d: ExpiresAt = %d, want %d", attempt, r.ExpiresAt, wantExpiry.Unix())
		}
		s = persist(s)
		if wantFinal {
			break
		}
		// The redelivery tries again.
		now = now.Add(time.Minute)
		dec, err := s.Claim(claimBy(ref, fmt.Sprintf("owner-%d", attempt+1), now))
		if err != nil || dec != domain.DecideScan {
			t.Fatalf("attempt %d: Claim after a retryable failure = %v, %v; want scan", attempt+1, dec, err)
		}
		if s.Failure() != nil || s.Record().FinalFailure {
			t.Errorf("attempt %d: a retry kept the failure", attempt+1)
		}
		s = persist(s)
	}

	// A redelivery of the same push does not rerun the failed scan...
	if dec, err := s.Claim(claimBy(ref, "owner-again", now.Add(time.Hour))); !errors.Is(err, domain.ErrUnchanged) || dec != domain.DecideSkip {
		t.Fatalf("redelivery after a final failure = %v, %v; want skip, unchanged", dec, err)
	}
	// ...but the same push after FailureCacheTTL starts afresh.
	dec, err := s.Claim(claimBy(ref, "owner-later", now.Add(domain.FailureCacheTTL+time.Hour)))
	if err != nil || dec != domain.DecideScan {
		t.Fatalf("Claim after a final failure = %v, %v; want scan", dec, err)
	}
	if r := s.Record(); r.Attempts != 1 || r.FinalFailure || r.Failure != nil {
		t.Errorf("Attempts %d, FinalFailure %v, Failure %+v; want a fresh scan", r.Attempts, r.FinalFailure, r.Failure)
	}
}

func TestFailIsFinal(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	tests := []struct {
		name        string
		class       domain.FailureClass
		maxAttempts int
		wantFinal   bool
	}{
		{"retryable with attempts left", domain.FailureCrashed, 3, false},
		{"retryable at the last attempt", domain.FailureCrashed, 1, true},
		{"retryable with no attempts allowed", domain.FailureScanner, 0, true},
		{"permanent on the first attempt", domain.FailureImageNotFound, 3, true},
		{"configuration bug", domain.FailureInvalidParameter, 3, true},
		{"policy deny", domain.FailurePolicyDeny, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scanning(t, ref, "owner-a", t0)
			final, err := s.Fail("owner-a", domain.Failure{Class: tc.class, Reason: "r"}, nil, tc.maxAttempts, t0.Add(time.Minute), cacheTTL)
			if err != nil {
				t.Fatal(err)
			}
			if final != tc.wantFinal {
				t.Errorf("final = %v, want %v", final, tc.wantFinal)
			}
			want := domain.EventScanRetrying
			if tc.wantFinal {
				want = domain.EventScanFailed
			}
			if e := s.Event(); e.Type != want || e.Ref != ref {
				t.Errorf("Event = %+v, want %s for %+v", e, want, ref)
			}
		})
	}
}

func TestFailPartialResults(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	partial := result("partial")
	partial.Summary.Partial = true
	exit40 := domain.Failure{Class: domain.FailurePartialReport, Reason: "no vulnerability report", ExitCode: 40}

	t.Run("kept with the failure", func(t *testing.T) {
		s := scanning(t, ref, "owner-a", t0)
		if _, err := s.Fail("owner-a", exit40, &partial, 1, t0.Add(time.Minute), cacheTTL); err != nil {
			t.Fatal(err)
		}
		sum, ok := s.Summary()
		if !ok || !reflect.DeepEqual(sum, partial.Summary) {
			t.Errorf("Summary = %+v, %v; want the partial one", sum, ok)
		}
		if loc, ok := s.ReportLocation(); !ok || loc != partial.Report {
			t.Errorf("ReportLocation = %+v, %v", loc, ok)
		}
		if r := s.Record(); r.Platform != partial.Platform || r.QScannerVersion != partial.QScannerVersion {
			t.Errorf("Platform, QScannerVersion = %q, %q", r.Platform, r.QScannerVersion)
		}
	})

	t.Run("kept across a retry of the same scan", func(t *testing.T) {
		s := scanning(t, ref, "owner-a", t0)
		if _, err := s.Fail("owner-a", exit40, &partial, maxAttempts, t0.Add(time.Minute), cacheTTL); err != nil {
			t.Fatal(err)
		}
		s = persist(s)
		if _, err := s.Claim(claimBy(ref, "owner-b", t0.Add(2*time.Minute))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Fail("owner-b", domain.Failure{Class: domain.FailureTimeout}, nil, maxAttempts, t0.Add(3*time.Minute), cacheTTL); err != nil {
			t.Fatal(err)
		}
		if sum, ok := s.Summary(); !ok || !sum.Partial {
			t.Errorf("Summary = %+v, %v; want the first attempt's partial one", sum, ok)
		}
	})

	t.Run("an earlier scan's result is not kept", func(t *testing.T) {
		s := completed(t, ref, t0)
		later := t0.Add(cacheTTL + time.Hour)
		if _, err := s.Claim(claimBy(ref, "owner-b", later)); err != nil {
			t.Fatal(err)
		}
		s = persist(s)
		final, err := s.Fail("owner-b", domain.Failure{Class: domain.FailureQualysAuth, Reason: "401"}, nil, maxAttempts, later.Add(time.Minute), cacheTTL)
		if err != nil || !final {
			t.Fatalf("Fail = %v, %v; want final", final, err)
		}
		if sum, ok := s.Summary(); ok {
			t.Errorf("a failed rescan reports the expired scan's summary %+v", sum)
		}
		if loc, ok := s.ReportLocation(); ok {
			t.Errorf("a failed rescan points at the expired scan's report %+v", loc)
		}
	})
}

func TestMaxReferences(t *testing.T) {
	first := testkit.MustRef(t, "team/app", "v0")
	s := completed(t, first, t0)
	const pushes = domain.MaxReferences + 50
	var last domain.ImageRef
	for i := 1; i <= pushes; i++ {
		last = testkit.MustRef(t, "team/app", fmt.Sprintf("v%d", i))
		dec, err := s.Claim(claimBy(last, "owner-b", t0.Add(time.Duration(i)*time.Minute)))
		if err != nil || dec != domain.DecideReferenced {
			t.Fatalf("push %d: Claim = %v, %v", i, dec, err)
		}
		s = persist(s)
	}
	refs := s.References()
	if len(refs) != domain.MaxReferences {
		t.Fatalf("%d references, want %d", len(refs), domain.MaxReferences)
	}
	if refs[len(refs)-1].ImageRef != last {
		t.Errorf("newest reference is %+v, want %+v", refs[len(refs)-1].ImageRef, last)
	}
	if wantOldest := fmt.Sprintf("v%d", pushes-domain.MaxReferences+1); refs[0].Tag != wantOldest {
		t.Errorf("oldest kept reference is %q, want %q", refs[0].Tag, wantOldest)
	}
	for i := 1; i < len(refs); i++ {
		if !refs[i-1].FirstSeen.Before(refs[i].FirstSeen) {
			t.Errorf("references out of order at %d", i)
		}
	}
}

func TestReferencesIsACopy(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := completed(t, ref, t0)
	refs := s.References()
	refs[0].Tag = "changed"
	if s.References()[0].Tag != "v1" {
		t.Error("References() exposes the record's slice")
	}
}

// Stores hand the same record to concurrent writers; one writer's claim must
// not show up in another's record, or in the stored one.
func TestScansFromOneRecordDoNotShareReferences(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	rec := completed(t, ref, t0).Record()
	rec.References = append(make([]domain.Reference, 0, 8), rec.References...) // spare capacity
	a, b := domain.ScanFromRecord(rec), domain.ScanFromRecord(rec)
	refA, refB := testkit.MustRef(t, "team/app", "a"), testkit.MustRef(t, "team/app", "b")
	if _, err := a.Claim(claimBy(refA, "x", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Claim(claimBy(refB, "y", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if got := refList(a); !reflect.DeepEqual(got, []domain.ImageRef{ref, refA}) {
		t.Errorf("first writer's references = %+v", got)
	}
	if got := refList(b); !reflect.DeepEqual(got, []domain.ImageRef{ref, refB}) {
		t.Errorf("second writer's references = %+v", got)
	}
	if len(rec.References) != 1 || rec.References[:2][1].ImageRef != (domain.ImageRef{}) {
		t.Error("a claim wrote into the record it was built from")
	}
}

func TestEveryWriteHasANewEventID(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	seen := map[string]bool{}
	record := func(s *domain.Scan) {
		t.Helper()
		id := s.Event().ID
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
			t.Fatalf("event ID %q is not 128 bits of hex", id)
		}
		if seen[id] {
			t.Fatalf("event ID %s reused by %s", id, s.Event().Type)
		}
		seen[id] = true
	}
	s := domain.NewScan(ref.Digest)
	now := t0
	step := func(name string, write func() error) {
		t.Helper()
		now = now.Add(time.Minute)
		if err := write(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		record(s)
		s = persist(s)
	}
	claim := func(r domain.ImageRef, owner string) func() error {
		return func() error { _, err := s.Claim(claimBy(r, owner, now)); return err }
	}
	step("claim", claim(ref, "a"))
	step("queue", claim(testkit.MustRef(t, "team/app", "v2"), "b"))
	step("re-apply own claim", claim(ref, "a"))
	step("retryable failure", func() error {
		_, err := s.Fail("a", domain.Failure{Class: domain.FailureCrashed}, nil, maxAttempts, now, cacheTTL)
		return err
	})
	step("retry", claim(ref, "c"))
	step("complete", func() error { return s.Complete("c", result("1"), now, cacheTTL) })
	step("reference", claim(testkit.MustRef(t, "other/app", ""), "d"))
	now = now.Add(cacheTTL)
	step("rescan", claim(ref, "e"))
	step("takeover", func() error {
		now = now.Add(leaseFor)
		_, err := s.Claim(claimBy(ref, "f", now))
		return err
	})
	step("final failure", func() error {
		_, err := s.Fail("f", domain.Failure{Class: domain.FailureRegistryAuth}, nil, maxAttempts, now, cacheTTL)
		return err
	})
	if len(seen) != 10 {
		t.Errorf("%d distinct events, want 10", len(seen))
	}
}

func TestClaimWrongDigest(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	other, err := domain.ParseDigest("sha256:" + strings.Repeat("f", 64))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		scan *domain.Scan
	}{
		{"new record", domain.NewScan(other)},
		{"completed record", func() *domain.Scan {
			s := completed(t, ref, t0)
			r := s.Record()
			r.Digest = other
			return domain.ScanFromRecord(r)
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.scan.Record()
			dec, err := tc.scan.Claim(claimBy(ref, "owner-a", t0.Add(time.Hour)))
			if err == nil || dec == domain.DecideScan || dec == domain.DecideReferenced {
				t.Fatalf("Claim = %v, %v; want skip and an error", dec, err)
			}
			if !errors.Is(err, domain.ErrInvalidDigest) || !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalidDigest", err)
			}
			if !reflect.DeepEqual(tc.scan.Record(), before) {
				t.Error("a refused claim changed the record")
			}
		})
	}
}

func TestRecordVersion(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := domain.NewScan(ref.Digest)
	if s.Version() != 0 || !s.IsNew() {
		t.Fatalf("new scan: Version %d, IsNew %v", s.Version(), s.IsNew())
	}
	if _, err := s.Claim(claimBy(ref, "a", t0)); err != nil {
		t.Fatal(err)
	}
	r := s.Record()
	if r.Version != 1 {
		t.Errorf("first write has version %d, want 1", r.Version)
	}
	if s.Version() != 0 {
		t.Errorf("Record changed the scan's version to %d", s.Version())
	}
	stored := domain.ScanFromRecord(r)
	if stored.IsNew() || stored.Version() != 1 {
		t.Errorf("stored scan: Version %d, IsNew %v; want 1, false", stored.Version(), stored.IsNew())
	}
	if got := stored.Record().Version; got != 2 {
		t.Errorf("second write has version %d, want 2", got)
	}
}

func TestScanRecordJSONRoundTrip(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := scanning(t, ref, "owner-a", t0)
	if _, err := s.Fail("owner-a", domain.Failure{Class: domain.FailurePartialReport, Reason: "r", ExitCode: 40}, &domain.ScanResult{Summary: domain.Summary{Secrets: 1}}, 1, t0.Add(time.Minute), cacheTTL); err != nil {
		t.Fatal(err)
	}
	want := s.Record()
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got domain.ScanRecord
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if fresh, _ := json.Marshal(domain.NewScan(ref.Digest).Record()); strings.Contains(string(fresh), "completedAt") {
		t.Errorf("a zero completion time is written: %s", fresh)
	}
}

// The record is one DynamoDB item (400 KB) and, old and new image together,
// one stream record that the Pipe turns into a bus event (256 KB).
func TestScanRecordWorstCaseSize(t *testing.T) {
	hostile := strings.Repeat("<", 10_000)
	v := domain.Vulnerability{QID: hostile, Title: hostile, CVEs: []string{hostile, hostile, hostile, hostile, hostile}}
	for range 3 {
		v.Packages = append(v.Packages, domain.Package{Name: hostile, InstalledVersion: hostile, FixedVersion: hostile})
	}
	rep := domain.Report{}
	for range domain.TopFindings {
		rep.Vulnerabilities = append(rep.Vulnerabilities, v)
	}
	longRepo := strings.Repeat("a", 256)
	first, err := domain.NewImageRef(testAccount, "eusc-de-east-1", longRepo, testDigest, strings.Repeat("T", domain.MaxTagLen))
	if err != nil {
		t.Fatal(err)
	}
	s := domain.NewScan(first.Digest)
	if _, err := s.Claim(domain.Claim{Ref: first, Owner: strings.Repeat("o", 64), Now: t0, LeaseUntil: t0.Add(leaseFor), TraceHeader: strings.Repeat("h", 256)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(strings.Repeat("o", 64), domain.ScanResult{Summary: domain.Summarize(&rep), Report: domain.ReportLocation{Bucket: strings.Repeat("b", 63), Key: strings.Repeat("k", 1024)}}, t0, cacheTTL); err != nil {
		t.Fatal(err)
	}
	for i := range domain.MaxReferences {
		ref := first
		ref.Tag = fmt.Sprintf("%0*d", domain.MaxTagLen, i)
		if _, err := s.Claim(claimBy(ref, "x", t0.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(s.Record())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst-case record JSON: %d bytes", len(b))
	if limit := 400 << 10; len(b) > limit {
		t.Errorf("worst-case record JSON is %d bytes, over DynamoDB's item limit of %d", len(b), limit)
	}
}

func TestEventTypePublished(t *testing.T) {
	tests := []struct {
		t    domain.EventType
		want bool
	}{
		{domain.EventScanCompleted, true},
		{domain.EventImageReferenced, true},
		{domain.EventScanFailed, true},
		{domain.EventScanStarted, false},
		{domain.EventReferenceQueued, false},
		{domain.EventScanRetrying, false},
		{domain.EventType("Bogus"), false},
		{domain.EventType(""), false},
	}
	for _, tc := range tests {
		t.Run(string(tc.t), func(t *testing.T) {
			if got := tc.t.Published(); got != tc.want {
				t.Errorf("Published() = %v, want %v", got, tc.want)
			}
		})
	}
	published := 0
	for _, tc := range tests {
		if tc.want {
			published++
		}
	}
	if len(domain.PublishedEventTypes) != published {
		t.Errorf("PublishedEventTypes has %d entries, want %d", len(domain.PublishedEventTypes), published)
	}
	for _, et := range domain.PublishedEventTypes {
		if !et.Published() {
			t.Errorf("PublishedEventTypes lists %s, which is not Published", et)
		}
	}
}

func TestFailureClassRetryable(t *testing.T) {
	tests := []struct {
		class domain.FailureClass
		want  bool
	}{
		{domain.FailureTimeout, true},
		{domain.FailurePartialReport, true},
		{domain.FailureScanner, true},
		{domain.FailureCrashed, true},
		{domain.FailureUnparseableOutput, true},
		{domain.FailureInternal, true},
		{domain.FailureImageNotFound, false},
		{domain.FailureRegistryAuth, false},
		{domain.FailureQualysAuth, false},
		{domain.FailurePolicyDeny, false},
		{domain.FailurePolicyAudit, false},
		{domain.FailureInvalidParameter, false},
		{domain.FailureClass("unheard_of"), false},
	}
	for _, tc := range tests {
		t.Run(string(tc.class), func(t *testing.T) {
			if got := tc.class.Retryable(); got != tc.want {
				t.Errorf("Retryable() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFailureError(t *testing.T) {
	tests := []struct {
		name string
		f    domain.Failure
		want string
	}{
		{"with exit code", domain.Failure{Class: domain.FailurePolicyDeny, Reason: "policy denied", ExitCode: 42}, "policy_deny (exit 42): policy denied"},
		{"without exit code", domain.Failure{Class: domain.FailureTimeout, Reason: "ran past 10m"}, "timeout: ran past 10m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error = tc.f
			if err.Error() != tc.want {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.want)
			}
			var f domain.Failure
			if !errors.As(fmt.Errorf("scan: %w", err), &f) || f != tc.f {
				t.Errorf("errors.As lost the failure: %+v", f)
			}
		})
	}
}

func TestDecisionString(t *testing.T) {
	tests := []struct {
		d    domain.Decision
		want string
	}{
		{domain.DecideScan, "scan"},
		{domain.DecideReferenced, "referenced"},
		{domain.DecideSkip, "skip"},
		{domain.DecideGaveUp, "gave up"},
		{domain.DecideRecord, "record stored result"},
		{domain.Decision(0), "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.d.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewIDIsUnique(t *testing.T) {
	seen := make(map[string]bool, 10_000)
	for range 10_000 {
		id := domain.NewID()
		if len(id) != 32 || seen[id] {
			t.Fatalf("NewID() = %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

func TestConcurrentPushesScanOnce(t *testing.T) {
	st := testkit.NewMemoryScanStore()
	ctx := context.Background()
	const pushes = 32
	decisions := make([]domain.Decision, pushes)
	refs := make([]domain.ImageRef, pushes)
	var wg sync.WaitGroup
	for i := range pushes {
		refs[i] = testkit.MustRef(t, fmt.Sprintf("team/app%d", i%8), fmt.Sprintf("v%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.Update(ctx, refs[i].Digest, func(s *domain.Scan) error {
				var err error
				decisions[i], err = s.Claim(claimBy(refs[i], fmt.Sprintf("owner-%d", i), t0))
				return err
			})
			if err != nil {
				t.Errorf("push %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	scans := 0
	for _, d := range decisions {
		if d == domain.DecideScan {
			scans++
		}
	}
	if scans != 1 {
		t.Errorf("%d pushes decided to scan, want exactly 1", scans)
	}
	s, err := st.Get(ctx, refs[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.References()); got != pushes {
		t.Errorf("%d references recorded, want %d", got, pushes)
	}
	if s.Attempts() != 1 || s.Version() != pushes {
		t.Errorf("Attempts %d, Version %d; want 1, %d", s.Attempts(), s.Version(), pushes)
	}
}

func TestLostReplyDoesNotRestartTheScan(t *testing.T) {
	st := testkit.NewMemoryScanStore()
	ctx := context.Background()
	ref := testkit.MustRef(t, "team/app", "v1")
	st.LoseNextReply()
	var dec domain.Decision
	err := st.Update(ctx, ref.Digest, func(s *domain.Scan) error {
		var err error
		dec, err = s.Claim(claimBy(ref, "owner-a", t0))
		return err
	})
	if err != nil || dec != domain.DecideScan {
		t.Fatalf("Update = %v, decision %v; want nil, scan", err, dec)
	}
	writes := st.Writes()
	if len(writes) != 2 {
		t.Fatalf("%d writes, want the lost one and its re-application", len(writes))
	}
	first, second := writes[0], writes[1]
	if second.ScanID != first.ScanID || second.Attempts != 1 || second.StartedBy != ref {
		t.Errorf("re-applied claim changed the scan: ScanID %s→%s, Attempts %d", first.ScanID, second.ScanID, second.Attempts)
	}
	if second.Event.ID == first.Event.ID {
		t.Error("two writes carry one event ID")
	}
	err = st.Update(ctx, ref.Digest, func(s *domain.Scan) error {
		return s.Complete("owner-a", result("1"), t0.Add(time.Minute), cacheTTL)
	})
	if err != nil {
		t.Fatalf("Complete after the lost reply: %v", err)
	}
}
