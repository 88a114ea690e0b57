package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
)

const (
	replayScanID = "5f2c0e7a9b1d4c3e8f6a0b2c4d6e8f01"
	replayTrace  = "Root=1-65f0c0de-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
)

// replayScan builds a record through the domain lifecycle: a push of
// repository:v1, a second reference pushed while the scan ran, then the
// outcome fn records.
func replayScan(t *testing.T, outcome func(s *domain.Scan, now time.Time) error) domain.ScanRecord {
	t.Helper()
	start := at("2024-05-01T10:00:00Z")
	first := ref(t, pushDigest, "v1")
	other, err := domain.NewImageRef(account, region, "team-b/billing", pushDigest, "stable")
	if err != nil {
		t.Fatal(err)
	}
	s := domain.NewScan(first.Digest)
	if _, err := s.Claim(domain.Claim{Ref: first, Owner: "scan-1", Now: start, LeaseUntil: start.Add(15 * time.Minute), TraceHeader: replayTrace}); err != nil {
		t.Fatal(err)
	}
	s = domain.ScanFromRecord(s.Record())
	if _, err := s.Claim(domain.Claim{Ref: other, Owner: "scan-2", Now: start.Add(time.Minute), LeaseUntil: start.Add(16 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s = domain.ScanFromRecord(s.Record())
	if err := outcome(s, start.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r := s.Record()
	// The scan ID is random; the golden files pin everything else.
	r.ScanID = replayScanID
	return r
}

func completed(s *domain.Scan, now time.Time) error {
	return s.Complete("scan-1", domain.ScanResult{
		Summary: domain.Summary{
			Vulnerabilities: domain.Counts{Critical: 1, High: 2, Medium: 3},
			Fixable:         domain.Counts{Critical: 1, High: 1},
			Secrets:         1,
			SecretSeverity:  domain.Counts{High: 1},
		},
		Report:          domain.ReportLocation{Bucket: "results", Key: "reports/" + replayScanID + ".json.gz"},
		Platform:        "linux/amd64",
		QScannerVersion: "4.8.0-2",
	}, now, 7*24*time.Hour)
}

func failedFinally(s *domain.Scan, now time.Time) error {
	_, err := s.Fail("scan-1", domain.Failure{Class: domain.FailureRegistryAuth, Reason: "pull denied", ExitCode: 9}, nil, 3, now, 7*24*time.Hour)
	return err
}

func TestReplayEventGolden(t *testing.T) {
	tests := []struct {
		name    string
		outcome func(*domain.Scan, time.Time) error
		golden  string
	}{
		{name: "completed scan", outcome: completed, golden: "replay-completed.golden.json"},
		{name: "final failure", outcome: failedFinally, golden: "replay-failed.golden.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := events.ReplayEvent(replayScan(t, tc.outcome), "replay-0001")
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", tc.golden), append(got, '\n'))
		})
	}
}

func TestReplayEventIdentity(t *testing.T) {
	rec := replayScan(t, completed)
	a, err := events.ReplayEvent(rec, "replay-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := events.ReplayEvent(rec, "replay-b")
	if err != nil {
		t.Fatal(err)
	}
	if a.EventID != replayScanID+":completed" {
		t.Errorf("event ID %q, want %q", a.EventID, replayScanID+":completed")
	}
	if a.EventID == rec.Event.ID {
		t.Error("a replay reuses the live event's ID, so a handler would take it for a redelivery")
	}
	// Two replays differ only by their replay ID.
	b.ReplayID = a.ReplayID
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("replays under different IDs differ beyond ReplayID:\n%s\n%s", ja, jb)
	}
	if len(a.References) != 2 || a.Ref != rec.StartedBy {
		t.Errorf("references %v, ref %v: want both references and the push that started the scan", a.References, a.Ref)
	}
}

func TestReplayEventRefusesRecordsWithoutOutcome(t *testing.T) {
	tests := []struct {
		name     string
		outcome  func(*domain.Scan, time.Time) error
		replayID string
		wantErr  error
		msg      string
	}{
		{
			name:     "scanning",
			outcome:  func(*domain.Scan, time.Time) error { return nil },
			replayID: "r",
			wantErr:  events.ErrNotReplayable,
			msg:      "being scanned",
		},
		{
			name: "retrying",
			outcome: func(s *domain.Scan, now time.Time) error {
				_, err := s.Fail("scan-1", domain.Failure{Class: domain.FailureTimeout, Reason: "slow"}, nil, 3, now, time.Hour)
				return err
			},
			replayID: "r",
			wantErr:  events.ErrNotReplayable,
			msg:      "waits for a retry",
		},
		{
			name:     "no replay ID",
			outcome:  completed,
			replayID: "",
			msg:      "empty replay ID",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.ReplayEvent(replayScan(t, tc.outcome), tc.replayID)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

// A completed record without its report pointer would be dead-lettered by
// every handler; ReplayEvent refuses it up front.
func TestReplayEventValidates(t *testing.T) {
	rec := replayScan(t, completed)
	rec.Report = nil
	if _, err := events.ReplayEvent(rec, "r"); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("error %v, want one wrapping domain.ErrInvalid", err)
	}
}

// What RuleMessage renders is what a handler's queue receives from a rule:
// DecodeBusMessage reads it back to the same event, replay ID included.
func TestRuleMessageDecodesAsBusDelivery(t *testing.T) {
	ev, err := events.ReplayEvent(replayScan(t, completed), "replay-0001")
	if err != nil {
		t.Fatal(err)
	}
	body, err := ev.RuleMessage("6a7e3b52-5a1c-4c8e-9d0f-2b3c4d5e6f70", account, region)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"} {
		if _, ok := env[k]; !ok {
			t.Errorf("envelope has no %q: %s", k, body)
		}
	}
	if got := string(env["time"]); got != `"2024-05-01T10:03:00Z"` {
		t.Errorf("time %s, want EventBridge's second-precision UTC form", got)
	}
	back, err := events.DecodeBusMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(env["detail-type"]); got != `"Image Scan Event"` {
		t.Errorf("detail-type %s, want the static one", got)
	}
	if back.ReplayID != "replay-0001" || back.EventID != ev.EventID || back.EventType != domain.EventScanCompleted {
		t.Errorf("decoded %+v", back)
	}
	if _, err := ev.RuleMessage("bad id\n", account, region); err == nil {
		t.Error("an envelope ID with a newline was accepted")
	}
}
