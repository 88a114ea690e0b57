package testkit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
)

// TestScanStore is the behaviour every domain.ScanStore must show: the
// conditional write, fn's error leaving the record alone, the re-read on a
// conflict, and exactly one lease among racing claims. newStore returns an
// empty store; each subtest uses its own digests, so a factory may hand out
// one shared store.
func TestScanStore(t *testing.T, newStore func(t *testing.T) domain.ScanStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("get missing", func(t *testing.T) { scanStoreGetMissing(t, newStore, ctx, now) })
	t.Run("create then update", func(t *testing.T) { scanStoreCreateThenUpdate(t, newStore, ctx, now) })
	t.Run("fn error writes nothing", func(t *testing.T) { scanStoreFnErrorWritesNothing(t, newStore, ctx, now) })
	t.Run("fn sees the stored record", func(t *testing.T) { scanStoreFnSeesTheStoredRecord(t, newStore, ctx, now) })
	t.Run("cancelled context", func(t *testing.T) { scanStoreCancelledContext(t, newStore, ctx, now) })
	t.Run("update retries on conflict", func(t *testing.T) { scanStoreUpdateRetriesOnConflict(t, newStore, ctx, now) })
	t.Run("concurrent claims all land once", func(t *testing.T) { scanStoreConcurrentClaimsAllLandOnce(t, newStore, ctx, now) })
	t.Run("concurrent duplicate claims", func(t *testing.T) { scanStoreConcurrentDuplicateClaims(t, newStore, ctx, now) })
}

// scanStoreGetMissing is the "get missing" case of TestScanStore.
func scanStoreGetMissing(t *testing.T, newStore func(t *testing.T) domain.ScanStore, ctx context.Context, now time.Time) {
	s := newStore(t)
	_, err := s.Get(ctx, RandomDigest(t))
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
}

// scanStoreCreateThenUpdate is the "create then update" case of TestScanStore.
func scanStoreCreateThenUpdate(t *testing.T, newStore func(t *testing.T) domain.ScanStore, ctx context.Context, now time.Time) {
	s := newStore(t)
	d := RandomDigest(t)
	ref := MustRefOf(t, d, "app", "v1")
	dec, err := Claim(ctx, s, ref, "owner-a", now)
	if err != nil || dec != domain.DecideScan {
		t.Fatalf("first claim = %v, %v; want DecideScan", dec, err)
	}
	got, err := s.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.StatusScanning || got.Event().Type != domain.EventScanStarted || got.Version() != 1 {
		t.Errorf("after create: status %s, event %s, version %d; want SCANNING, ScanStarted, 1", got.Status(), got.Event().Type, got.Version())
	}
	scanID := got.ScanID()

	res := domain.ScanResult{Summary: domain.Summary{Secrets: 1}, Report: domain.ReportLocation{Bucket: "b", Key: "k"}}
	err = s.Update(ctx, d, func(sc *domain.Scan) error {
		return sc.Complete("owner-a", res, now.Add(time.Minute), time.Hour)
	})
	if err != nil {
		t.Fatalf("Update(Complete): %v", err)
	}
	got, err = s.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	sum, ok := got.Summary()
	if got.Status() != domain.StatusCompleted || got.Event().Type != domain.EventScanCompleted || got.Version() != 2 || !ok || sum.Secrets != 1 || got.ScanID() != scanID {
		t.Errorf("after complete: status %s, event %s, version %d, summary %+v (%v), scan %s; want COMPLETED, ScanCompleted, 2, 1 secret, scan %s",
			got.Status(), got.Event().Type, got.Version(), sum, ok, got.ScanID(), scanID)
	}
}

// scanStoreFnErrorWritesNothing is the "fn error writes nothing" case of TestScanStore.
func scanStoreFnErrorWritesNothing(t *testing.T, newStore func(t *testing.T) domain.ScanStore, ctx context.Context, now time.Time) {
	s := newStore(t)
	d := RandomDigest(t)
	boom := errors.New("boom")
	if err := s.Update(ctx, d, func(sc *domain.Scan) error {
		if _, err := sc.Claim(domain.Claim{Ref: MustRefOf(t, d, "app", "v1"), Owner: "o", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
			return err
		}
		return boom
	}); err != boom {
		t.Fatalf("Update on a new record = %v, want fn's error unchanged", err)
	}
	if _, err := s.Get(ctx, d); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get after failed create = %v, want ErrNotFound", err)
	}

	ref := MustRefOf(t, d, "app", "v1")
	if _, err := Claim(ctx, s, ref, "o", now); err != nil {
		t.Fatal(err)
	}
	before, err := s.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	// The same push again changes nothing: Claim says ErrUnchanged.
	if _, err := Claim(ctx, s, ref, "other", now); !errors.Is(err, domain.ErrUnchanged) {
		t.Fatalf("repeat claim = %v, want ErrUnchanged", err)
	}
	after, err := s.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version() != before.Version() || after.Event().ID != before.Event().ID {
		t.Errorf("record written despite fn error: version %d→%d, event %s→%s", before.Version(), after.Version(), before.Event().ID, after.Event().ID)
	}
}

// scanStoreFnSeesTheStoredRecord is the "fn sees the stored record" case of TestScanStore.
func scanStoreFnSeesTheStoredRecord(t *testing.T, newStore func(t *testing.T) domain.ScanStore, ctx context.Context, now time.Time) {
	s := newStore(t)
	d := RandomDigest(t)
	if _, err := Claim(ctx, s, MustRefOf(t, d, "app", "v1"), "o", now); err != nil {
		t.Fatal(err)
	}
	var seen *domain.Scan
	if err := s.Update(ctx, d, func(sc *domain.Scan) error { seen = sc; return domain.ErrUnchanged }); !errors.Is(err, domain.ErrUnchanged) {
		t.Fatal(err)
	}
	if seen.IsNew() || seen.Status() != domain.StatusScanning || len(seen.References()) != 1 {
		t.Errorf("fn saw new=%v status=%s refs=%d, want the stored SCANNING record with 1 reference", seen.IsNew(), seen.Status(), len(seen.References()))
	}
}

// scanStoreCancelledContext is the "cancelled context" case of TestScanStore.
func scanStoreCancelledContext(t *testing.T, newStore func(t *testing.T) domain.ScanStore, ctx context.Context, now time.Time) {
	s := newStore(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	d := RandomDigest(t)
	err := s.Update(cctx, d, func(*domain.Scan) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with a cancelled context = %v, want context.Canceled", err)
	}
}

// A writer that slips in between Update's read and write forces a
// re-read: both changes must land, and fn must run again on the newer
// record.
func scanStoreUpdateRetriesOnConflict(t *testing.T, newStore func(t *testing.T) domain.ScanStore, ctx context.Context, now time.Time) {
	s := newStore(t)
	d := RandomDigest(t)
	if _, err := Claim(ctx, s, MustRefOf(t, d, "app", "v1"), "owner-a", now); err != nil {
		t.Fatal(err)
	}
	calls := 0
	var decision domain.Decision
	err := s.Update(ctx, d, func(sc *domain.Scan) error {
		calls++
		if calls == 1 {
			// Another invocation records its reference meanwhile.
			if _, err := Claim(ctx, s, MustRefOf(t, d, "app", "v2"), "owner-b", now); err != nil {
				t.Errorf("interleaved claim: %v", err)
			}
		}
		var err error
		decision, err = sc.Claim(domain.Claim{Ref: MustRefOf(t, d, "app", "v3"), Owner: "owner-c", Now: now, LeaseUntil: now.Add(time.Minute)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("fn ran %d times, want 2 (once more after the conflict)", calls)
	}
	if decision != domain.DecideSkip {
		t.Errorf("decision = %v, want skip (lease held by owner-a)", decision)
	}
	got, err := s.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.References()) != 3 || got.Version() != 3 {
		t.Errorf("record has %d references at version %d, want 3 at version 3", len(got.References()), got.Version())
	}
}

// 50 pushes of the same digest under different tags race: one takes the
// lease, every other one is queued on the record, and none is lost.
func scanStoreConcurrentClaimsAllLandOnce(t *testing.T, newStore func(t *testing.T) domain.ScanStore, ctx context.Context, now time.Time) {
	const n = 50
	s := newStore(t)
	d := RandomDigest(t)
	decisions := make([]domain.Decision, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ref := MustRefOf(t, d, "app", fmt.Sprintf("tag-%d", i))
			decisions[i], errs[i] = Claim(ctx, s, ref, fmt.Sprintf("owner-%d", i), now)
		})
	}
	wg.Wait()
	scans := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("claim %d: %v", i, errs[i])
		}
		if decisions[i] == domain.DecideScan {
			scans++
		}
	}
	if scans != 1 {
		t.Errorf("%d claims got DecideScan, want exactly 1", scans)
	}
	got, err := s.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if refs := len(got.References()); refs != n {
		t.Errorf("record has %d references, want %d", refs, n)
	}
	if got.Version() != n {
		t.Errorf("record version %d, want %d (one write per claim)", got.Version(), n)
	}
}

// 50 deliveries of the same push: one takes the lease, the rest find
// nothing to record.
func scanStoreConcurrentDuplicateClaims(t *testing.T, newStore func(t *testing.T) domain.ScanStore, ctx context.Context, now time.Time) {
	const n = 50
	s := newStore(t)
	d := RandomDigest(t)
	ref := MustRefOf(t, d, "app", "v1")
	decisions := make([]domain.Decision, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { decisions[i], errs[i] = Claim(ctx, s, ref, fmt.Sprintf("owner-%d", i), now) })
	}
	wg.Wait()
	scans := 0
	for i := range n {
		switch {
		case errs[i] == nil && decisions[i] == domain.DecideScan:
			scans++
		case errors.Is(errs[i], domain.ErrUnchanged):
		default:
			t.Errorf("claim %d = %v, %v; want DecideScan or ErrUnchanged", i, decisions[i], errs[i])
		}
	}
	if scans != 1 {
		t.Errorf("%d claims got DecideScan, want exactly 1", scans)
	}
	got, err := s.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version() != 1 {
		t.Errorf("record version %d, want 1", got.Version())
	}
}

// Claim is the scan function's use of Update for a push of ref at now, with
// a 15-minute lease: it returns the decision of the fn call whose result was
// written.
func Claim(ctx context.Context, s domain.ScanStore, ref domain.ImageRef, owner string, now time.Time) (domain.Decision, error) {
	var decision domain.Decision
	err := s.Update(ctx, ref.Digest, func(sc *domain.Scan) error {
		var err error
		decision, err = sc.Claim(domain.Claim{Ref: ref, Owner: owner, Now: now, LeaseUntil: now.Add(15 * time.Minute)})
		return err
	})
	return decision, err
}
