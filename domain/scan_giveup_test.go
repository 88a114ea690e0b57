package domain

import (
	"strings"
	"testing"
	"time"
)

func TestClaimGivesUpAfterMaxAttemptsDiedHoldingTheLease(t *testing.T) {
	ref, err := NewImageRef("123456789012", "us-east-1", "team/app", "sha256:"+strings.Repeat("ab", 32), "v1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s := NewScan(ref.Digest)
	for i, owner := range []string{"a", "b", "c"} {
		d, err := s.Claim(Claim{Ref: ref, Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute), MaxAttempts: 3})
		if err != nil || d != DecideScan {
			t.Fatalf("attempt %d: Claim = %v, %v; want scan", i+1, d, err)
		}
		now = now.Add(2 * time.Minute) // the holder died; its lease expired
	}
	d, err := s.Claim(Claim{Ref: ref, Owner: "d", Now: now, LeaseUntil: now.Add(time.Minute), MaxAttempts: 3})
	if err != nil || d != DecideGaveUp {
		t.Fatalf("fourth Claim = %v, %v; want gave up", d, err)
	}
	if s.Status() != StatusFailed || s.Event().Type != EventScanFailed || s.Failure() == nil || s.Failure().Class != FailureCrashed {
		t.Errorf("status %s event %s failure %+v", s.Status(), s.Event().Type, s.Failure())
	}
	// A redelivery of the same push does not start again; after
	// FailureCacheTTL it does, afresh.
	if d, err := s.Claim(Claim{Ref: ref, Owner: "e", Now: now, LeaseUntil: now.Add(time.Minute), MaxAttempts: 3}); err != ErrUnchanged || d != DecideSkip {
		t.Fatalf("redelivery after giving up: Claim = %v, %v; want skip", d, err)
	}
	now = now.Add(FailureCacheTTL + time.Minute)
	d, err = s.Claim(Claim{Ref: ref, Owner: "e", Now: now, LeaseUntil: now.Add(time.Minute), MaxAttempts: 3})
	if err != nil || d != DecideScan || s.Attempts() != 1 {
		t.Errorf("after giving up: Claim = %v, %v, attempts %d; want a fresh scan", d, err, s.Attempts())
	}
}
