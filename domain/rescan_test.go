package domain_test

import (
	"errors"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

func forcedClaim(ref domain.ImageRef, owner string, now, notBefore time.Time) domain.Claim {
	c := claimBy(ref, owner, now)
	c.Origin = domain.Origin{Cause: domain.CauseManual, RequestedBy: "ops", NotBefore: notBefore}
	return c
}

// A forced request bypasses an unexpired cache entry, keeps the replaced
// scan as Previous, and takes the record out of the sweep index while it
// runs; Complete puts it back, keyed by the new completion time.
func TestForcedRescanKeepsPreviousScan(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := completed(t, ref, t0)
	old := s.Record()
	if old.RescanShard == "" || old.RescanFrom != t0.Add(time.Minute).Format(domain.RescanTimeFormat) {
		t.Fatalf("completed record's sweep key = %q/%q, want a shard and its completion time", old.RescanShard, old.RescanFrom)
	}
	later := t0.Add(48 * time.Hour)
	dec, err := s.Claim(forcedClaim(ref, "owner-b", later, later))
	if err != nil || dec != domain.DecideScan {
		t.Fatalf("forced Claim = %v, %v; want scan, nil", dec, err)
	}
	r := s.Record()
	if r.ScanID == old.ScanID {
		t.Error("a rescan kept the old scan ID")
	}
	if r.Previous == nil || r.Previous.ScanID != old.ScanID || r.Previous.Report == nil || *r.Previous.Report != *old.Report || !r.Previous.CompletedAt.Equal(old.CompletedAt) {
		t.Errorf("Previous = %+v, want the old scan %s", r.Previous, old.ScanID)
	}
	if r.Cause != domain.CauseManual || r.RequestedBy != "ops" || r.Event.Cause != domain.CauseManual {
		t.Errorf("cause %q by %q, event cause %q; want manual by ops", r.Cause, r.RequestedBy, r.Event.Cause)
	}
	if r.RescanShard != "" || r.RescanFrom != "" {
		t.Errorf("a running scan is still in the sweep index: %q/%q", r.RescanShard, r.RescanFrom)
	}
	s = persist(s)
	diff := &domain.ScanDiff{PreviousScanID: old.ScanID}
	res := result("2")
	res.Changes = diff
	if err := s.Complete("owner-b", res, later.Add(time.Minute), cacheTTL); err != nil {
		t.Fatal(err)
	}
	if r := s.Record(); r.Changes == nil || r.Changes.PreviousScanID != old.ScanID || r.RescanFrom != later.Add(time.Minute).Format(domain.RescanTimeFormat) || r.Event.Cause != domain.CauseManual {
		t.Errorf("completed rescan: changes %+v, sweep key %q, event cause %q", r.Changes, r.RescanFrom, r.Event.Cause)
	}
}

// Requests that a running or newer scan satisfies cause no second run:
// a forced request during a live lease joins it, and one whose NotBefore
// the current scan already meets (a redelivery after completion, or the
// 49 others of a burst) records nothing new.
func TestForcedRescanJoinsAndIsSatisfied(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	s := completed(t, ref, t0)
	req := t0.Add(time.Hour)
	if dec, err := s.Claim(forcedClaim(ref, "first", req, req)); err != nil || dec != domain.DecideScan {
		t.Fatalf("first forced Claim = %v, %v", dec, err)
	}
	s = persist(s)
	dec, err := s.Claim(forcedClaim(ref, "second", req.Add(time.Second), req))
	if dec != domain.DecideSkip || !errors.Is(err, domain.ErrUnchanged) {
		t.Errorf("forced Claim during a live lease = %v, %v; want skip (joined), unchanged", dec, err)
	}
	if err := s.Complete("first", result("3"), req.Add(time.Minute), cacheTTL); err != nil {
		t.Fatal(err)
	}
	s = persist(s)
	dec, err = s.Claim(forcedClaim(ref, "redelivery", req.Add(2*time.Minute), req))
	if dec != domain.DecideSkip || !errors.Is(err, domain.ErrUnchanged) {
		t.Errorf("forced Claim satisfied by the completed scan = %v, %v; want skip, unchanged", dec, err)
	}
	// A request made after that scan started asks for a newer one.
	if dec, err := s.Claim(forcedClaim(ref, "next", req.Add(3*time.Minute), req.Add(3*time.Minute))); err != nil || dec != domain.DecideScan {
		t.Errorf("a later forced Claim = %v, %v; want scan", dec, err)
	}
}

func TestParseCause(t *testing.T) {
	for _, c := range domain.Causes {
		if got, err := domain.ParseCause(string(c)); err != nil || got != c {
			t.Errorf("ParseCause(%q) = %q, %v", c, got, err)
		}
	}
	if _, err := domain.ParseCause("cron"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ParseCause(cron) = %v, want ErrInvalid", err)
	}
	if domain.Cause("").OrPush() != domain.CausePush {
		t.Error("an empty cause does not read as push")
	}
}

func TestDiffer(t *testing.T) {
	vuln := func(qid string, sev domain.Severity, fixed string) domain.Vulnerability {
		return domain.Vulnerability{QID: qid, Severity: sev, Packages: []domain.Package{{Name: "p", FixedVersion: fixed}}}
	}
	prev := &domain.Report{
		Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityLow, ""), vuln("2", domain.SeverityHigh, "")},
		Secrets:         []domain.Secret{{RuleID: "aws", File: "a", StartLine: 1, Severity: domain.SeverityCritical}},
	}
	cur := &domain.Report{
		Vulnerabilities: []domain.Vulnerability{vuln("2", domain.SeverityHigh, ""), vuln("3", domain.SeverityCritical, "1.1"), vuln("4", domain.SeverityMedium, "")},
		Secrets:         []domain.Secret{{RuleID: "aws", File: "a", StartLine: 1, Severity: domain.SeverityCritical}, {RuleID: "gh", File: "b", StartLine: 2, Severity: domain.SeverityHigh}},
	}
	d := domain.NewDiffer(domain.PreviousScan{ScanID: "p1"}, cur)
	if err := prev.Walk(d.Visitor()); err != nil {
		t.Fatal(err)
	}
	got := d.Diff()
	if got.NewVulnerabilities != (domain.Counts{Critical: 1, Medium: 1}) || got.NewFixable != (domain.Counts{Critical: 1}) || got.FixedVuln != (domain.Counts{Low: 1}) {
		t.Errorf("counts new %+v fixable %+v fixed %+v", got.NewVulnerabilities, got.NewFixable, got.FixedVuln)
	}
	if got.NewSecrets != 1 || got.NewSecretSeverity.High != 1 || got.FixedSecrets != 0 {
		t.Errorf("secrets new %d (%+v) fixed %d; want 1 HIGH, 0", got.NewSecrets, got.NewSecretSeverity, got.FixedSecrets)
	}
	if len(got.NewQIDs) != 2 || got.NewQIDs[0].ID != "3" || got.NewQIDs[1].ID != "4" || len(got.FixedQIDs) != 1 || got.FixedQIDs[0].ID != "1" {
		t.Errorf("ids new %+v fixed %+v; want 3, 4 and 1", got.NewQIDs, got.FixedQIDs)
	}
	if got.PreviousScanID != "p1" || got.Empty() {
		t.Errorf("previous %q, empty %v", got.PreviousScanID, got.Empty())
	}
	if v := (domain.DefaultAlertPolicy).Evaluate(got.NewSummary()); !v.Alert || v.Vulnerabilities != 1 || v.Secrets != 1 {
		t.Errorf("policy on what is new = %+v, want 1 vulnerability and 1 secret", v)
	}
}

// However many findings change, the lists stay bounded.
func TestDifferBoundsLists(t *testing.T) {
	cur := &domain.Report{}
	for i := range 1000 {
		cur.Vulnerabilities = append(cur.Vulnerabilities, domain.Vulnerability{QID: string(rune('a'+i%26)) + time.Duration(i).String(), Severity: domain.Severity(i%5 + 1)})
	}
	d := domain.NewDiffer(domain.PreviousScan{}, cur)
	got := d.Diff()
	if got.NewVulnerabilities.Total() != 1000 || len(got.NewQIDs) != domain.MaxDiffIDs || got.NewQIDs[0].Severity != domain.SeverityCritical {
		t.Errorf("new %d, listed %d (first %+v); want 1000, %d, critical first", got.NewVulnerabilities.Total(), len(got.NewQIDs), got.NewQIDs[0], domain.MaxDiffIDs)
	}
}

// A rescan that fails for good leaves the digest in continuous rescanning:
// the record stays in the sweep's index, due RescanAfterDays after the
// failure, keeps the completed scan it replaced as Previous, and lives as
// long as a cache entry; a push's final failure leaves the index.
func TestAFailedRescanStaysInTheSweep(t *testing.T) {
	const cacheTTL = 30 * 24 * time.Hour
	ref := testkit.MustRef(t, "team/app", "v1")
	s := completed(t, ref, t0)
	old := s.Record()
	later := t0.Add(8 * 24 * time.Hour)
	if dec, err := s.Claim(forcedClaim(ref, "owner-b", later, later)); err != nil || dec != domain.DecideScan {
		t.Fatalf("forced Claim = %v, %v", dec, err)
	}
	final, err := s.Fail("owner-b", domain.Failure{Class: domain.FailureQualysAuth, Reason: "token refused"}, nil, 3, later.Add(time.Minute), cacheTTL)
	if err != nil || !final {
		t.Fatalf("Fail = %v, %v; want a final failure", final, err)
	}
	r := s.Record()
	if r.RescanShard == "" || r.RescanFrom != later.Add(time.Minute).Format(domain.RescanTimeFormat) {
		t.Errorf("sweep key = %q/%q, want the record due again from the failure", r.RescanShard, r.RescanFrom)
	}
	if r.Previous == nil || r.Previous.ScanID != old.ScanID {
		t.Errorf("Previous = %+v, want the completed scan %s kept", r.Previous, old.ScanID)
	}
	if want := later.Add(time.Minute).Add(cacheTTL).Unix(); r.ExpiresAt != want {
		t.Errorf("expiresAt = %d, want %d (a cache entry's lifetime, not a failed push's day)", r.ExpiresAt, want)
	}

	p := domain.NewScan(ref.Digest)
	if _, err := p.Claim(claimBy(ref, "owner-c", t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fail("owner-c", domain.Failure{Class: domain.FailureQualysAuth, Reason: "token refused"}, nil, 3, t0, cacheTTL); err != nil {
		t.Fatal(err)
	}
	if r := p.Record(); r.RescanShard != "" || r.RescanFrom != "" {
		t.Errorf("a push's failed scan is in the sweep index: %q/%q", r.RescanShard, r.RescanFrom)
	}
}
