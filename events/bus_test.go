package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
)

// busDir holds the bus goldens and the stream fixtures, shared with
// handlers/enrich: a stream fixture and the golden of the event it becomes
// are built from the same record.
const busDir = "../testdata/bus"

const (
	busAccount      = "123456789012"
	busRegion       = "eu-west-1"
	busDigest       = "sha256:3b5f1c9a2e7d4f6b8a0c1e3d5f7a9b2c4e6d8f0a1b3c5d7e9f2a4c6e8b0d1f3a"
	busFailedDigest = "sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
	busScanID       = "7d1c5e9a3b2f4c6e8a0b1d3f5e7c9a2b"
	busFailedScanID = "2a4c6e8f0b1d3f5a7c9e1b3d5f7a9c0e"
	busTrace        = "Root=1-665d7b94-6f1e2d3c4b5a69788796a5b4;Parent=9a8b7c6d5e4f3a2b;Sampled=1"
	busRefTrace     = "Root=1-665d97b4-0a1b2c3d4e5f60718293a4b5;Parent=1a2b3c4d5e6f7a8b;Sampled=1"
)

// busRecords are the scans-table items of one realistic history, each as the
// store writes it. IDs that the domain draws at random are fixed so that the
// files built from them are stable.
type busRecords struct {
	// Digest busDigest: a push of team-a/payments-api:v2.3.1 starts a scan,
	// team-b/billing:stable and an untagged push to team-a/payments-api arrive
	// while it runs, the scan completes, and two hours later a push to
	// team-c/web:latest reuses the cached result.
	started, queued, completed, referenced domain.ScanRecord
	// Digest busFailedDigest: a push of team-d/batch-jobs:nightly whose scan
	// fails for good (the registry refused the pull).
	failedStarted, failed domain.ScanRecord
}

func busTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func busRef(t *testing.T, repo, digest, tag string) domain.ImageRef {
	t.Helper()
	r, err := domain.NewImageRef(busAccount, busRegion, repo, digest, tag)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// busReport is a small but realistic report: a critical and a high finding
// with fixes, a medium one without, and a hard-coded secret.
func busReport() *domain.Report {
	return &domain.Report{
		Digest:          busDigest,
		Platform:        "linux/amd64",
		OS:              "debian 12.5",
		QScannerVersion: "4.8.0-2",
		ScanTypes:       []string{"pkg", "secret"},
		Vulnerabilities: []domain.Vulnerability{
			{
				QID: "45012", Title: "Debian Security Update for tar", Severity: domain.SeverityMedium, QualysSeverity: 3,
				CVEs: []string{"CVE-2023-39804"}, CVSS3: 6.2, Category: "Debian",
				Packages: []domain.Package{{Name: "tar", InstalledVersion: "1.34+dfsg-1.2"}},
			},
			{
				QID: "379132", Title: "XZ Utils Backdoor (xz-utils)", Severity: domain.SeverityCritical, QualysSeverity: 5,
				CVEs: []string{"CVE-2024-3094"}, CVSS3: 10, Category: "Local",
				Packages: []domain.Package{{Name: "xz-utils", InstalledVersion: "5.6.0-0.2", FixedVersion: "5.6.1+really5.4.5-1", Path: "/usr/bin/xz", Layer: "sha256:aa11"}},
			},
			{
				QID: "376157", Title: "OpenSSL Denial of Service Vulnerability", Severity: domain.SeverityHigh, QualysSeverity: 4,
				CVEs: []string{"CVE-2024-0727", "CVE-2023-6237"}, CVSS3: 7.5, Category: "Local",
				Packages: []domain.Package{{Name: "openssl", InstalledVersion: "3.0.11-1~deb12u2", FixedVersion: "3.0.13-1~deb12u1"}},
			},
		},
		Secrets: []domain.Secret{{RuleID: "aws-access-key-id", Category: "AWS", Title: "AWS Access Key", Severity: domain.SeverityHigh, File: "/app/.env", StartLine: 3, EndLine: 3}},
	}
}

// newBusRecords plays the history through the domain lifecycle, writing and
// re-reading the record after every step as the store does.
func newBusRecords(t *testing.T) busRecords {
	t.Helper()
	var out busRecords
	t0 := busTime(t, "2024-06-03T08:15:00Z")
	lease := 15 * time.Minute
	cacheTTL := 7 * 24 * time.Hour
	// write is what the store does: it persists Record() and the next
	// writer starts from what was read back.
	write := func(s **domain.Scan, scanID, eventID string) domain.ScanRecord {
		r := (*s).Record()
		r.ScanID, r.Event.ID = scanID, eventID
		*s = domain.ScanFromRecord(r)
		return r
	}
	claim := func(s *domain.Scan, c domain.Claim, want domain.Decision) {
		t.Helper()
		d, err := s.Claim(c)
		if err != nil || d != want {
			t.Fatalf("claim %s: decision %v, error %v; want %v", c.Ref.Display(), d, err, want)
		}
	}

	push := busRef(t, "team-a/payments-api", busDigest, "v2.3.1")
	s := domain.NewScan(push.Digest)
	claim(s, domain.Claim{Ref: push, Owner: "scan-a1", Now: t0, LeaseUntil: t0.Add(lease), TraceHeader: busTrace}, domain.DecideScan)
	out.started = write(&s, busScanID, "0f1e2d3c4b5a69788796a5b4c3d2e1f0")

	at := t0.Add(20 * time.Second)
	claim(s, domain.Claim{Ref: busRef(t, "team-b/billing", busDigest, "stable"), Owner: "scan-b1", Now: at, LeaseUntil: at.Add(lease)}, domain.DecideSkip)
	write(&s, busScanID, "1a2b3c4d5e6f708192a3b4c5d6e7f801")
	at = t0.Add(40 * time.Second)
	claim(s, domain.Claim{Ref: busRef(t, "team-a/payments-api", busDigest, ""), Owner: "scan-a2", Now: at, LeaseUntil: at.Add(lease)}, domain.DecideSkip)
	out.queued = write(&s, busScanID, "2b3c4d5e6f708192a3b4c5d6e7f80912")

	rep := busReport()
	res := domain.ScanResult{
		Summary:         domain.Summarize(rep),
		Report:          domain.ReportLocation{Bucket: "ecr-scan-reports-" + busAccount, Key: "reports/" + busScanID + ".json.gz"},
		Platform:        rep.Platform,
		QScannerVersion: rep.QScannerVersion,
	}
	if err := s.Complete("scan-a1", res, t0.Add(3*time.Minute+12*time.Second), cacheTTL); err != nil {
		t.Fatal(err)
	}
	out.completed = write(&s, busScanID, "3c4d5e6f708192a3b4c5d6e7f8091a2b")

	at = t0.Add(2 * time.Hour)
	claim(s, domain.Claim{Ref: busRef(t, "team-c/web", busDigest, "latest"), Owner: "scan-c1", Now: at, LeaseUntil: at.Add(lease), TraceHeader: busRefTrace}, domain.DecideReferenced)
	out.referenced = write(&s, busScanID, "4d5e6f708192a3b4c5d6e7f8091a2b3c")

	at = t0.Add(5 * time.Minute)
	f := domain.NewScan(busFailedDigest)
	claim(f, domain.Claim{Ref: busRef(t, "team-d/batch-jobs", busFailedDigest, "nightly"), Owner: "scan-d1", Now: at, LeaseUntil: at.Add(lease), TraceHeader: busTrace}, domain.DecideScan)
	out.failedStarted = write(&f, busFailedScanID, "5e6f708192a3b4c5d6e7f8091a2b3c4d")
	final, err := f.Fail("scan-d1", domain.Failure{Class: domain.FailureRegistryAuth, Reason: "pull access denied for team-d/batch-jobs", ExitCode: 9}, nil, 3, at.Add(time.Minute), cacheTTL)
	if err != nil || !final {
		t.Fatalf("fail: final %v, error %v", final, err)
	}
	out.failed = write(&f, busFailedScanID, "6f708192a3b4c5d6e7f8091a2b3c4d5e")
	return out
}

func newBusEvent(t *testing.T, r domain.ScanRecord) events.ScanEvent {
	t.Helper()
	ev, err := events.NewScanEvent(r)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestScanEventGolden(t *testing.T) {
	recs := newBusRecords(t)
	tests := []struct {
		name   string
		record domain.ScanRecord
		golden string
	}{
		{name: "scan completed", record: recs.completed, golden: "scan-completed.golden.json"},
		{name: "image referenced", record: recs.referenced, golden: "image-referenced.golden.json"},
		{name: "scan failed", record: recs.failed, golden: "scan-failed.golden.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := newBusEvent(t, tc.record)
			if ev.SchemaVersion != events.SchemaVersion || ev.EventType != tc.record.Event.Type {
				t.Errorf("schema %q, event type %q; want %q, %q", ev.SchemaVersion, ev.EventType, events.SchemaVersion, tc.record.Event.Type)
			}
			if err := ev.Validate(); err != nil {
				t.Errorf("the event of a lifecycle record does not validate: %v", err)
			}
			got, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(got, []byte(`"detailType"`)) {
				t.Errorf("schema 2 event carries a detailType field:\n%s", got)
			}
			testkit.Golden(t, filepath.Join(busDir, tc.golden), append(got, '\n'))
		})
	}
}

func TestNewScanEventMapsTheRecord(t *testing.T) {
	recs := newBusRecords(t)
	r := recs.completed
	ev := newBusEvent(t, r)
	if ev.SchemaVersion != events.SchemaVersion || ev.EventID != r.Event.ID || ev.EventType != domain.EventScanCompleted || !ev.Time.Equal(r.Event.At) {
		t.Errorf("identity %q %q %q %v, want the record's event", ev.SchemaVersion, ev.EventID, ev.EventType, ev.Time)
	}
	if ev.Ref != r.StartedBy {
		t.Errorf("ref %+v, want the push that started the scan %+v", ev.Ref, r.StartedBy)
	}
	if !ev.ScannedAt.Equal(r.CompletedAt) || ev.ScanID != busScanID || ev.Digest != busDigest {
		t.Errorf("scanned at %v, scan %q, digest %q", ev.ScannedAt, ev.ScanID, ev.Digest)
	}
	if len(ev.References) != len(r.References) {
		t.Fatalf("%d references, want %d", len(ev.References), len(r.References))
	}
	for i := range r.References {
		if ev.References[i] != r.References[i].ImageRef {
			t.Errorf("reference %d is %+v, want %+v", i, ev.References[i], r.References[i].ImageRef)
		}
	}
	if ev.Summary == nil || ev.Summary.Vulnerabilities.Critical != 1 || ev.Report == nil || ev.Report.Key != r.Report.Key || ev.TraceHeader != busTrace {
		t.Errorf("summary %+v, report %+v, trace %q: want the record's", ev.Summary, ev.Report, ev.TraceHeader)
	}
	if ev.ReplayID != "" {
		t.Errorf("a live event has replay ID %q", ev.ReplayID)
	}

	// A record without references still gives an empty list, not null.
	r.References = nil
	b, err := json.Marshal(newBusEvent(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"references":[]`)) {
		t.Errorf("no references encoded as %s", b)
	}
}

func TestNewScanEventRefusesUnpublished(t *testing.T) {
	recs := newBusRecords(t)
	tests := []struct {
		name string
		typ  domain.EventType
	}{
		{name: "scan started", typ: domain.EventScanStarted},
		{name: "reference queued", typ: domain.EventReferenceQueued},
		{name: "scan retrying", typ: domain.EventScanRetrying},
		{name: "no event", typ: ""},
		{name: "unknown type", typ: "ScanExploded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := recs.completed
			r.Event.Type = tc.typ
			_, err := events.NewScanEvent(r)
			if !errors.Is(err, events.ErrNotPublished) {
				t.Fatalf("error %v, want ErrNotPublished", err)
			}
			if !strings.Contains(err.Error(), string(tc.typ)) {
				t.Errorf("error %q does not name the type", err)
			}
		})
	}
}

func TestTargetsAndRepositories(t *testing.T) {
	recs := newBusRecords(t)
	tests := []struct {
		name    string
		event   func() events.ScanEvent
		targets []string
		repos   []events.Repository
	}{
		{
			name:  "completed scan acts for every reference, grouped by repository",
			event: func() events.ScanEvent { return newBusEvent(t, recs.completed) },
			targets: []string{
				"team-a/payments-api:v2.3.1", "team-b/billing:stable", "team-a/payments-api@sha256:3b5f1c9a2e7d",
			},
			repos: []events.Repository{
				{Account: busAccount, Region: busRegion, Name: "team-a/payments-api", Tags: []string{"v2.3.1"}, Ref: busRef(t, "team-a/payments-api", busDigest, "v2.3.1")},
				{Account: busAccount, Region: busRegion, Name: "team-b/billing", Tags: []string{"stable"}, Ref: busRef(t, "team-b/billing", busDigest, "stable")},
			},
		},
		{
			name:    "image referenced acts only for the new reference",
			event:   func() events.ScanEvent { return newBusEvent(t, recs.referenced) },
			targets: []string{"team-c/web:latest"},
			repos: []events.Repository{
				{Account: busAccount, Region: busRegion, Name: "team-c/web", Tags: []string{"latest"}, Ref: busRef(t, "team-c/web", busDigest, "latest")},
			},
		},
		{
			name:    "failed scan acts for its only reference",
			event:   func() events.ScanEvent { return newBusEvent(t, recs.failed) },
			targets: []string{"team-d/batch-jobs:nightly"},
			repos: []events.Repository{
				{Account: busAccount, Region: busRegion, Name: "team-d/batch-jobs", Tags: []string{"nightly"}, Ref: busRef(t, "team-d/batch-jobs", busFailedDigest, "nightly")},
			},
		},
		{
			name: "event without references falls back to its ref",
			event: func() events.ScanEvent {
				ev := newBusEvent(t, recs.completed)
				ev.References = nil
				return ev
			},
			targets: []string{"team-a/payments-api:v2.3.1"},
			repos: []events.Repository{
				{Account: busAccount, Region: busRegion, Name: "team-a/payments-api", Tags: []string{"v2.3.1"}, Ref: busRef(t, "team-a/payments-api", busDigest, "v2.3.1")},
			},
		},
		{
			name: "untagged refs contribute no tag, and a tagged one represents the repository",
			event: func() events.ScanEvent {
				ev := newBusEvent(t, recs.completed)
				ev.References = []domain.ImageRef{
					busRef(t, "team-a/payments-api", busDigest, ""),
					busRef(t, "team-a/payments-api", busDigest, "v2"),
					busRef(t, "team-e/untagged", busDigest, ""),
					busRef(t, "team-a/payments-api", busDigest, "v2.3"),
				}
				return ev
			},
			targets: []string{"team-a/payments-api@sha256:3b5f1c9a2e7d", "team-a/payments-api:v2", "team-e/untagged@sha256:3b5f1c9a2e7d", "team-a/payments-api:v2.3"},
			repos: []events.Repository{
				{Account: busAccount, Region: busRegion, Name: "team-a/payments-api", Tags: []string{"v2", "v2.3"}, Ref: busRef(t, "team-a/payments-api", busDigest, "v2")},
				{Account: busAccount, Region: busRegion, Name: "team-e/untagged", Ref: busRef(t, "team-e/untagged", busDigest, "")},
			},
		},
		{
			name: "same repository name in another region is another repository",
			event: func() events.ScanEvent {
				ev := newBusEvent(t, recs.completed)
				other, err := domain.NewImageRef(busAccount, "us-east-1", "team-a/payments-api", busDigest, "v2.3.1")
				if err != nil {
					t.Fatal(err)
				}
				ev.References = []domain.ImageRef{busRef(t, "team-a/payments-api", busDigest, "v2.3.1"), other}
				return ev
			},
			targets: []string{"team-a/payments-api:v2.3.1", "team-a/payments-api:v2.3.1"},
			repos: []events.Repository{
				{Account: busAccount, Region: busRegion, Name: "team-a/payments-api", Tags: []string{"v2.3.1"}, Ref: busRef(t, "team-a/payments-api", busDigest, "v2.3.1")},
				{Account: busAccount, Region: "us-east-1", Name: "team-a/payments-api", Tags: []string{"v2.3.1"}, Ref: domain.ImageRef{Account: busAccount, Region: "us-east-1", Repository: "team-a/payments-api", Digest: busDigest, Tag: "v2.3.1"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.event()
			var targets []string
			for _, r := range ev.Targets() {
				targets = append(targets, r.Display())
			}
			if strings.Join(targets, " ") != strings.Join(tc.targets, " ") {
				t.Errorf("targets %q, want %q", targets, tc.targets)
			}
			repos := ev.Repositories()
			if len(repos) != len(tc.repos) {
				t.Fatalf("repositories %+v, want %+v", repos, tc.repos)
			}
			for i, want := range tc.repos {
				got := repos[i]
				if got.Account != want.Account || got.Region != want.Region || got.Name != want.Name || got.Ref != want.Ref ||
					strings.Join(got.Tags, ",") != strings.Join(want.Tags, ",") || len(got.Tags) != len(want.Tags) {
					t.Errorf("repository %d is %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	recs := newBusRecords(t)
	tests := []struct {
		name   string
		from   domain.ScanRecord
		mutate func(*events.ScanEvent)
		msg    string // empty: valid
	}{
		{name: "completed scan is valid", from: recs.completed, mutate: func(*events.ScanEvent) {}},
		{name: "image referenced is valid", from: recs.referenced, mutate: func(*events.ScanEvent) {}},
		{name: "failed scan without summary is valid", from: recs.failed, mutate: func(*events.ScanEvent) {}},
		{name: "missing schema version", from: recs.completed, mutate: func(e *events.ScanEvent) { e.SchemaVersion = "" }, msg: `schema version ""`},
		{name: "future schema version", from: recs.completed, mutate: func(e *events.ScanEvent) { e.SchemaVersion = "3" }, msg: `schema version "3", want "2" (or "1", read from old events)`},
		{name: "schema 1, read from old events, is valid", from: recs.completed, mutate: func(e *events.ScanEvent) { e.SchemaVersion = "1" }},
		{name: "missing event ID", from: recs.completed, mutate: func(e *events.ScanEvent) { e.EventID = "" }, msg: "eventId missing"},
		{name: "bookkeeping event type", from: recs.completed, mutate: func(e *events.ScanEvent) { e.EventType = domain.EventScanStarted }, msg: `event type "ScanStarted" is not published`},
		{name: "missing event type", from: recs.completed, mutate: func(e *events.ScanEvent) { e.EventType = "" }, msg: `event type "" is not published`},
		{name: "missing digest", from: recs.completed, mutate: func(e *events.ScanEvent) { e.Digest = "" }, msg: "invalid digest"},
		{name: "malformed digest", from: recs.completed, mutate: func(e *events.ScanEvent) { e.Digest = "sha256:XYZ" }, msg: `invalid digest "sha256:XYZ"`},
		{name: "completed without summary", from: recs.completed, mutate: func(e *events.ScanEvent) { e.Summary = nil }, msg: "needs a summary and a report pointer"},
		{name: "completed without report", from: recs.completed, mutate: func(e *events.ScanEvent) { e.Report = nil }, msg: "needs a summary and a report pointer"},
		{name: "reference with a bad repository", from: recs.completed, mutate: func(e *events.ScanEvent) { e.References[1].Repository = "../etc" }, msg: "invalid repository"},
		{name: "reference with a bad tag", from: recs.completed, mutate: func(e *events.ScanEvent) { e.References[0].Tag = "v1;rm -rf /" }, msg: "invalid tag"},
		{name: "referenced event with a bad account", from: recs.referenced, mutate: func(e *events.ScanEvent) { e.Ref.Account = "12345" }, msg: "invalid account"},
		{name: "referenced event with a bad region", from: recs.referenced, mutate: func(e *events.ScanEvent) { e.Ref.Region = "moon-1" }, msg: "invalid region"},
		{name: "empty ref without references", from: recs.failed, mutate: func(e *events.ScanEvent) { e.Ref, e.References = domain.ImageRef{}, nil }, msg: "invalid account"},
		{
			name: "several problems reported together", from: recs.completed,
			mutate: func(e *events.ScanEvent) { e.EventID, e.Report = "", nil },
			msg:    "eventId missing; a completed scan needs",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := newBusEvent(t, tc.from)
			tc.mutate(&ev)
			err := ev.Validate()
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("valid event refused: %v", err)
				}
				return
			}
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error %v, want one wrapping domain.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

// busMessage is an event as a bus rule delivers it to SQS, as EventBridge
// writes it (field order and all); replayName adds what an archive replay
// adds.
func busMessage(t *testing.T, detailType, source string, detail []byte, replayName string) []byte {
	t.Helper()
	env := map[string]any{
		"version":     "0",
		"id":          "c7a2b1e4-6d5f-4a3b-9c8e-0f1d2e3c4b5a",
		"detail-type": detailType,
		"source":      source,
		"account":     busAccount,
		"time":        "2024-06-03T08:18:12Z",
		"region":      busRegion,
		"resources":   []string{},
		"detail":      json.RawMessage(detail),
	}
	if replayName != "" {
		env["replay-name"] = replayName
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeBusMessage(t *testing.T) {
	recs := newBusRecords(t)
	completed := newBusEvent(t, recs.completed)
	detail, err := json.Marshal(completed)
	if err != nil {
		t.Fatal(err)
	}
	replayed := completed
	replayed.ReplayID = "ops-2024-06-04"
	replayedDetail, err := json.Marshal(replayed)
	if err != nil {
		t.Fatal(err)
	}
	invalid := completed
	invalid.Summary = nil
	invalidDetail, err := json.Marshal(invalid)
	if err != nil {
		t.Fatal(err)
	}

	dt := events.DetailType
	tests := []struct {
		name       string
		body       []byte
		wantReplay string
		msg        string // empty: decodes to completed
	}{
		{name: "rule delivery", body: busMessage(t, dt, events.Source, detail, "")},
		{name: "archive replay gets the replay name", body: busMessage(t, dt, events.Source, detail, "fix-tags-0604"), wantReplay: "archive:fix-tags-0604"},
		// An event a table replay put on the bus and an archive replay
		// delivers again must be redone once more, not deduplicated against
		// the first replay.
		{name: "archive replay overrides a replay ID in the detail", body: busMessage(t, dt, events.Source, replayedDetail, "fix-tags-0604"), wantReplay: "archive:fix-tags-0604"},
		{name: "replay ID in the detail of a live delivery", body: busMessage(t, dt, events.Source, replayedDetail, ""), wantReplay: "ops-2024-06-04"},
		{name: "wrong source", body: busMessage(t, dt, "aws.ecr", detail, ""), msg: `source "aws.ecr", want "ecr-image-scanner"`},
		{name: "missing source", body: busMessage(t, dt, "", detail, ""), msg: `source ""`},
		{name: "schema 2 under a schema 1 detail-type", body: busMessage(t, "Scan Completed", events.Source, detail, ""), msg: `detail-type "Scan Completed", want "Image Scan Event" for schema 2`},
		{name: "invalid detail", body: busMessage(t, dt, events.Source, invalidDetail, ""), msg: "needs a summary"},
		{name: "detail of the wrong shape", body: busMessage(t, dt, events.Source, []byte(`["a"]`), ""), msg: "bus event detail"},
		{name: "detail with a bad severity", body: busMessage(t, dt, events.Source, bytes.Replace(detail, []byte(`"CRITICAL"`), []byte(`"APOCALYPTIC"`), 1), ""), msg: "bus event detail"},
		{name: "no detail", body: []byte(`{"source":"ecr-image-scanner","detail-type":"Image Scan Event"}`), msg: "bus event detail"},
		{name: "unknown schema version", body: busMessage(t, dt, events.Source, bytes.Replace(detail, []byte(`"schemaVersion":"2"`), []byte(`"schemaVersion":"3"`), 1), ""), msg: `schema version "3"`},
		{name: "not JSON", body: []byte("hello\nworld"), msg: "bus event"},
		{name: "empty body", body: nil, msg: "bus event"},
		{name: "raw detail without envelope", body: detail, msg: `source ""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := events.DecodeBusMessage(tc.body)
			if tc.msg != "" {
				if !errors.Is(err, domain.ErrInvalid) {
					t.Fatalf("error %v, want one wrapping domain.ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not say %q", err, tc.msg)
				}
				if strings.ContainsAny(err.Error(), "\r\n") && !strings.Contains(tc.msg, "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.ReplayID != tc.wantReplay {
				t.Errorf("replay ID %q, want %q", ev.ReplayID, tc.wantReplay)
			}
			ev.ReplayID = ""
			got, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, detail) {
				t.Errorf("decoded event differs from the one sent:\n%s\nwant\n%s", got, detail)
			}
		})
	}
}

// busTypical is a completed scan of a base image pushed to 100 service
// repositories, with ten findings of the usual size.
func busTypical(t *testing.T) events.ScanEvent {
	t.Helper()
	ev := newBusEvent(t, newBusRecords(t).completed)
	ev.References = nil
	for i := 0; i < domain.MaxReferences; i++ {
		repo := fmt.Sprintf("platform/team-%02d/service-%02d", i/10, i%10)
		ev.References = append(ev.References, busRef(t, repo, busDigest, fmt.Sprintf("v1.%d.0-build.%d", i%7, 4000+i)))
	}
	ev.Ref = ev.References[0]
	rep := busReport()
	for i := 0; i < domain.TopFindings; i++ {
		rep.Vulnerabilities = append(rep.Vulnerabilities, domain.Vulnerability{
			QID: fmt.Sprintf("3801%02d", i), Title: "Ubuntu Security Notification for glibc Vulnerabilities (USN-6762-1)",
			Severity: domain.SeverityHigh, CVSS3: 7.8, CVEs: []string{"CVE-2024-2961", "CVE-2024-33599", "CVE-2024-33600"},
			Packages: []domain.Package{
				{Name: "libc6", InstalledVersion: "2.35-0ubuntu3.6", FixedVersion: "2.35-0ubuntu3.7"},
				{Name: "libc-bin", InstalledVersion: "2.35-0ubuntu3.6", FixedVersion: "2.35-0ubuntu3.7"},
			},
		})
	}
	sum := domain.Summarize(rep)
	if len(sum.Top) != domain.TopFindings {
		t.Fatalf("%d top findings, want %d", len(sum.Top), domain.TopFindings)
	}
	ev.Summary = &sum
	return ev
}

// busWorstCase is the largest completed-scan event the domain's bounds
// allow: MaxReferences references with the longest repository names and tags
// ECR accepts, and TopFindings findings at their compacted maximum.
func busWorstCase(t *testing.T) events.ScanEvent {
	t.Helper()
	ev := newBusEvent(t, newBusRecords(t).completed)
	ev.References = nil
	for i := 0; i < domain.MaxReferences; i++ {
		// 256 characters, unique per reference.
		repo := strings.Repeat("a", 240) + "/" + strings.Repeat("b", 11) + "-" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "xx"
		tag := strings.Repeat("t", domain.MaxTagLen-4) + "-" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "x"
		ev.References = append(ev.References, busRef(t, repo[:256], busDigest, tag))
	}
	ev.Ref = ev.References[0]
	rep := &domain.Report{Digest: busDigest}
	for i := 0; i < 3*domain.TopFindings; i++ {
		v := domain.Vulnerability{
			QID:      strings.Repeat("9", 40),
			Title:    strings.Repeat("Very long vulnerability title ", 20),
			Severity: domain.SeverityCritical,
			CVSS3:    9.8,
			Category: strings.Repeat("c", 100),
		}
		for j := 0; j < 20; j++ {
			v.CVEs = append(v.CVEs, "CVE-2024-"+strings.Repeat("1", 40))
			v.Packages = append(v.Packages, domain.Package{
				Name: strings.Repeat("p", 300), InstalledVersion: strings.Repeat("1", 100), FixedVersion: strings.Repeat("2", 100),
				Path: strings.Repeat("/x", 500), Layer: busDigest,
			})
		}
		rep.Vulnerabilities = append(rep.Vulnerabilities, v)
	}
	sum := domain.Summarize(rep)
	if len(sum.Top) != domain.TopFindings {
		t.Fatalf("%d top findings, want %d", len(sum.Top), domain.TopFindings)
	}
	ev.Summary = &sum
	ev.Report.Key = strings.Repeat("k", 1024)
	return ev
}

func TestEntrySize(t *testing.T) {
	tests := []struct {
		name    string
		event   func(t *testing.T) events.ScanEvent
		maxSize int // a regression guard well below the limit
	}{
		{
			name:    "realistic completed scan",
			event:   func(t *testing.T) events.ScanEvent { return newBusEvent(t, newBusRecords(t).completed) },
			maxSize: 8 * 1024,
		},
		{
			name:    "100 typical references and 10 typical top findings",
			event:   busTypical,
			maxSize: 32 * 1024,
		},
		{
			name:    "100 references and 10 top findings at their maximum sizes",
			event:   busWorstCase,
			maxSize: 96 * 1024,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.event(t)
			entry, err := ev.Entry()
			if err != nil {
				t.Fatal(err)
			}
			size := len(entry.Detail)
			t.Logf("detail is %d bytes (%.1f%% of EventBridge's %d)", size, 100*float64(size)/events.MaxDetailBytes, events.MaxDetailBytes)
			if size > tc.maxSize {
				t.Errorf("detail is %d bytes, over the %d this test expects", size, tc.maxSize)
			}
			if entry.Source != events.Source || entry.DetailType != events.DetailType || !entry.Time.Equal(ev.Time) {
				t.Errorf("entry %q %q %v", entry.Source, entry.DetailType, entry.Time)
			}
			var back events.ScanEvent
			if err := json.Unmarshal(entry.Detail, &back); err != nil {
				t.Fatal(err)
			}
			if back.EventID != ev.EventID || len(back.References) != len(ev.References) {
				t.Errorf("detail does not read back: %+v", back)
			}
		})
	}
}

func TestEntryRefusesOversizedEvents(t *testing.T) {
	ev := newBusEvent(t, newBusRecords(t).failed)
	ev.Failure.Reason = strings.Repeat("x", events.MaxDetailBytes)
	_, err := ev.Entry()
	if !errors.Is(err, events.ErrEventTooLarge) || !strings.Contains(err.Error(), ev.EventID) {
		t.Fatalf("error %v, want a size refusal naming the event", err)
	}
}
