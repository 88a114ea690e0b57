package testkit_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
)

// The sample events must be events the bus could carry, or every handler
// test built on them would test the impossible.
func TestSampleEventsAreValid(t *testing.T) {
	app, other := testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", "v2")
	reports := map[string]*domain.Report{"report": testkit.Report(), "threshold report": testkit.ThresholdReport(), "large report": testkit.LargeReport(10)}
	for name, rep := range reports {
		for kind, ev := range map[string]events.ScanEvent{
			"completed":          testkit.CompletedEvent(rep, app),
			"completed, 2 refs":  testkit.CompletedEvent(rep, app, testkit.MustRef(t, "mirror/app", "")),
			"rescan":             testkit.CompletedEventOf(rep, "scan2", testkit.ScannedAt.AddDate(0, 0, 2), app),
			"referenced":         testkit.ReferencedEvent(rep, other, app),
			"referenced at time": testkit.ReferencedEventAt(rep, testkit.ScannedAt.Add(time.Hour), other, app),
		} {
			if err := ev.Validate(); err != nil {
				t.Errorf("%s, %s: %v", name, kind, err)
			}
		}
	}
	for name, ev := range map[string]events.ScanEvent{
		"failed":      testkit.FailedEvent(domain.Failure{Class: domain.FailureTimeout}, app),
		"other image": testkit.CompletedEvent(&domain.Report{Digest: testkit.OtherDigest}, testkit.MustRefOf(t, testkit.OtherDigest, "team/app", "v2")),
	} {
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEventIDsTellEventsApart(t *testing.T) {
	rep := testkit.Report()
	app, mirror := testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "mirror/app", "")
	seen := map[string]string{}
	for name, ev := range map[string]events.ScanEvent{
		"completed":  testkit.CompletedEvent(rep, app),
		"rescan":     testkit.CompletedEventOf(rep, "scan2", testkit.ScannedAt, app),
		"referenced": testkit.ReferencedEvent(rep, mirror, app),
		"failed":     testkit.FailedEvent(domain.Failure{Class: domain.FailureTimeout, Reason: "deadline"}, app),
	} {
		if other, ok := seen[ev.EventID]; ok {
			t.Errorf("%s and %s share event ID %s", name, other, ev.EventID)
		}
		seen[ev.EventID] = name
	}
	if a, b := testkit.CompletedEvent(rep, app), testkit.CompletedEvent(rep, mirror); a.EventID != b.EventID {
		t.Errorf("the same event built twice has IDs %s and %s; golden files need them stable", a.EventID, b.EventID)
	}
}

func TestRandomDigestsDiffer(t *testing.T) {
	if a, b := testkit.RandomDigest(t), testkit.RandomDigest(t); a == b {
		t.Errorf("two random digests are both %s", a)
	}
}

func TestGoldenAcceptsEqualBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, path, []byte("same\n"))
}

// A lost reply re-applies fn on the record that landed: two writes, one
// successful Update.
func TestMemoryScanStoreLosesTheNextReply(t *testing.T) {
	s := testkit.NewMemoryScanStore()
	ref := testkit.MustRef(t, "team/app", "v1")
	s.LoseNextReply()
	calls := 0
	err := s.Update(context.Background(), ref.Digest, func(*domain.Scan) error { calls++; return nil })
	if err != nil || calls != 2 || len(s.Writes()) != 2 || s.Record(ref.Digest).Version != 2 {
		t.Errorf("Update = %v after %d calls, %d writes, version %d; want nil, 2, 2, 2", err, calls, len(s.Writes()), s.Record(ref.Digest).Version)
	}
}
