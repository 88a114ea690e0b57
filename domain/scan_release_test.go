package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

var writeFailed = domain.Failure{Class: domain.FailureInternal, Reason: "record scan: ProvisionedThroughputExceededException"}

// scanningFor is a record just claimed by owner for ref while serving the
// queue message request.
func scanningFor(t *testing.T, ref domain.ImageRef, owner, request string, now time.Time) *domain.Scan {
	t.Helper()
	s := domain.NewScan(ref.Digest)
	c := claimBy(ref, owner, now)
	c.Request = request
	if d, err := s.Claim(c); err != nil || d != domain.DecideScan {
		t.Fatalf("first Claim = %v, %v; want scan", d, err)
	}
	return persist(s)
}

func TestRelease(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	stored := result("7")
	tests := []struct {
		name      string
		setup     func(t *testing.T) *domain.Scan
		by        string
		stored    *domain.ScanResult
		wantErr   error
		wantStore bool
	}{
		{"the owner releases and keeps the stored result", func(t *testing.T) *domain.Scan { return scanning(t, ref, "owner-a", t0) }, "owner-a", &stored, nil, true},
		{"the owner releases before anything was stored", func(t *testing.T) *domain.Scan { return scanning(t, ref, "owner-a", t0) }, "owner-a", nil, nil, false},
		{"release by a non-owner is refused", func(t *testing.T) *domain.Scan { return scanning(t, ref, "owner-a", t0) }, "owner-b", &stored, domain.ErrLeaseLost, false},
		{"release after the lease was taken over is refused", func(t *testing.T) *domain.Scan {
			s := scanning(t, ref, "owner-a", t0)
			if _, err := s.Claim(claimBy(ref, "owner-b", t0.Add(leaseFor+time.Minute))); err != nil {
				t.Fatal(err)
			}
			return persist(s)
		}, "owner-a", &stored, domain.ErrLeaseLost, false},
		{"release of a completed scan is refused", func(t *testing.T) *domain.Scan { return completed(t, ref, t0) }, "owner-a", &stored, domain.ErrLeaseLost, false},
		{"a second release by the same owner is refused", func(t *testing.T) *domain.Scan {
			s := scanning(t, ref, "owner-a", t0)
			if err := s.Release("owner-a", writeFailed, nil, t0); err != nil {
				t.Fatal(err)
			}
			return persist(s)
		}, "owner-a", &stored, domain.ErrLeaseLost, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.setup(t)
			before := s.Record()
			err := s.Release(tc.by, writeFailed, tc.stored, t0.Add(time.Minute))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Release = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if after := s.Record(); after.Event != before.Event || after.Lease != before.Lease {
					t.Errorf("a refused release changed the record: %+v", after)
				}
				return
			}
			if s.Status() != domain.StatusScanning || s.InProgress(t0.Add(time.Minute)) || s.Event().Type != domain.EventScanRetrying {
				t.Errorf("status %s in progress %v event %s; want SCANNING without a live lease, ScanRetrying", s.Status(), s.InProgress(t0.Add(time.Minute)), s.Event().Type)
			}
			if f := s.Failure(); f == nil || *f != writeFailed {
				t.Errorf("failure %+v, want the release's reason", f)
			}
			if got, ok := s.StoredResult(); ok != tc.wantStore || ok && got.Report != stored.Report {
				t.Errorf("StoredResult = %+v, %v; want present=%v", got, ok, tc.wantStore)
			}
		})
	}
}

func TestReleaseCutsALongReason(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := scanning(t, ref, "owner-a", t0)
	if err := s.Release("owner-a", domain.Failure{Class: domain.FailureInternal, Reason: strings.Repeat("x", 100_000)}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Failure().Reason); n > 1024 {
		t.Errorf("reason is %d bytes, want at most 1024", n)
	}
}

func TestClaimAfterRelease(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	other := testkit.MustRef(t, "team/other", "v1")
	stored := result("7")
	later := t0.Add(time.Minute) // the first lease would still run
	tests := []struct {
		name         string
		stored       *domain.ScanResult
		claim        domain.Claim
		want         domain.Decision
		wantSameScan bool
		wantAttempts int
	}{
		{"a stored result is recorded under the same scan", &stored, claimBy(ref, "owner-b", later), domain.DecideRecord, true, 2},
		{"another push records the stored result too", &stored, claimBy(other, "owner-b", later), domain.DecideRecord, true, 2},
		{"nothing stored: the retry scans again at once", nil, claimBy(ref, "owner-b", later), domain.DecideScan, false, 2},
		{"attempts used up: the release's reason is the failure", nil, domain.Claim{Ref: ref, Owner: "owner-b", Now: later, LeaseUntil: later.Add(leaseFor), MaxAttempts: 1}, domain.DecideGaveUp, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scanning(t, ref, "owner-a", t0)
			first := s.ScanID()
			if err := s.Release("owner-a", writeFailed, tc.stored, later); err != nil {
				t.Fatal(err)
			}
			s = persist(s)
			d, err := s.Claim(tc.claim)
			if err != nil || d != tc.want {
				t.Fatalf("Claim = %v, %v; want %v", d, err, tc.want)
			}
			if (s.ScanID() == first) != tc.wantSameScan || s.Attempts() != tc.wantAttempts {
				t.Errorf("scan %s (first %s) attempts %d; want same scan=%v, %d attempts", s.ScanID(), first, s.Attempts(), tc.wantSameScan, tc.wantAttempts)
			}
			if d == domain.DecideGaveUp {
				if f := s.Failure(); s.Status() != domain.StatusFailed || f == nil || f.Class != domain.FailureInternal || !strings.Contains(f.Reason, writeFailed.Reason) {
					t.Errorf("status %s failure %+v; want FAILED with the release's class and reason", s.Status(), f)
				}
				return
			}
			if !s.InProgress(later) {
				t.Error("the claimant holds no live lease")
			}
			if d == domain.DecideRecord {
				if err := s.Complete("owner-b", mustStored(t, s), later, cacheTTL); err != nil {
					t.Fatal(err)
				}
				if res, ok := s.Result(later); !ok || res.Report != stored.Report || res.ScanID != first {
					t.Errorf("Result = %+v, %v; want the stored report under scan %s", res, ok, first)
				}
				if _, ok := s.StoredResult(); ok {
					t.Error("the stored result outlived its recording")
				}
			}
		})
	}
}

func mustStored(t *testing.T, s *domain.Scan) domain.ScanResult {
	t.Helper()
	res, ok := s.StoredResult()
	if !ok {
		t.Fatal("no stored result")
	}
	return res
}

// A live lease is no proof that the push is being served: it may have been
// taken for an earlier delivery of the very message now redelivered, by an
// attempt that could not release it.
func TestClaimWhileLeaseLiveByRequest(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	later := t0.Add(time.Minute)
	tests := []struct {
		name    string
		request string
		owner   string
		want    domain.Decision
		wantErr error
	}{
		{"a redelivery of the holder's message takes over at once", "msg-1", "owner-b", domain.DecideScan, nil},
		{"another message for the same push is a duplicate", "msg-2", "owner-b", domain.DecideSkip, domain.ErrUnchanged},
		{"a request that is not known is a duplicate", "", "owner-b", domain.DecideSkip, domain.ErrUnchanged},
		{"the holder's own re-applied claim keeps scanning", "msg-1", "owner-a", domain.DecideScan, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scanningFor(t, ref, "owner-a", "msg-1", t0)
			c := claimBy(ref, tc.owner, later)
			c.Request = tc.request
			d, err := s.Claim(c)
			if d != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Claim = %v, %v; want %v, %v", d, err, tc.want, tc.wantErr)
			}
			if tc.want == domain.DecideScan && tc.owner != "owner-a" && s.Attempts() != 2 {
				t.Errorf("attempts %d, want 2: a takeover counts", s.Attempts())
			}
		})
	}
}

// A claim written but whose reply was lost is re-applied by the store: the
// claimant must still record, not scan.
func TestReappliedClaimOfAStoredResultStillRecords(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := scanning(t, ref, "owner-a", t0)
	stored := result("7")
	if err := s.Release("owner-a", writeFailed, &stored, t0); err != nil {
		t.Fatal(err)
	}
	s = persist(s)
	c := claimBy(ref, "owner-b", t0.Add(time.Minute))
	if d, err := s.Claim(c); err != nil || d != domain.DecideRecord {
		t.Fatalf("Claim = %v, %v", d, err)
	}
	s = persist(s)
	if d, err := s.Claim(c); err != nil || d != domain.DecideRecord {
		t.Errorf("re-applied Claim = %v, %v; want record stored result", d, err)
	}
}
