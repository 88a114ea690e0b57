package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/s3store"
)

func TestNewHandlerRejectsMissingDependencies(t *testing.T) {
	if _, err := NewHandler(nil, &fakeArchive{}, nil); err == nil {
		t.Error("NewHandler accepted nil dependencies")
	}
}

func decodeDocument(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("archive body is not JSON: %v\n%s", err, b)
	}
	return m
}

func tagsIn(t *testing.T, doc map[string]any) []string {
	t.Helper()
	raw, ok := doc["tags"].([]any)
	if !ok {
		t.Fatalf("tags = %#v, want a list", doc["tags"])
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i] = v.(string)
	}
	return out
}

func TestHandleArchivesEachTargetRepository(t *testing.T) {
	rep := testkit.Report()
	tests := []struct {
		name     string
		ev       func(t *testing.T) events.ScanEvent
		wantKeys []string
		wantTags [][]string
	}{
		{
			name: "completed scan: one object per repository, tags grouped",
			ev: func(t *testing.T) events.ScanEvent {
				return testkit.CompletedEvent(rep, testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", "v1"), testkit.MustRef(t, "team/app", "latest"))
			},
			wantKeys: []string{
				s3store.ArchiveKey("team/app", testkit.Digest, testkit.ScannedAt),
				s3store.ArchiveKey("other/app", testkit.Digest, testkit.ScannedAt),
			},
			wantTags: [][]string{{"v1", "latest"}, {"v1"}},
		},
		{
			name: "completed scan of an untagged push",
			ev: func(t *testing.T) events.ScanEvent {
				return testkit.CompletedEvent(rep, testkit.MustRef(t, "team/app", ""))
			},
			wantKeys: []string{s3store.ArchiveKey("team/app", testkit.Digest, testkit.ScannedAt)},
			wantTags: [][]string{{}},
		},
		{
			name: "image referenced from a new repository: only that repository",
			ev: func(t *testing.T) events.ScanEvent {
				return testkit.ReferencedEvent(rep, testkit.MustRef(t, "third/svc", "v9"), testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", "v1"))
			},
			wantKeys: []string{s3store.ArchiveKey("third/svc", testkit.Digest, testkit.ScannedAt)},
			wantTags: [][]string{{"v9"}},
		},
		{
			name: "new tag in a known repository: its object keeps every tag",
			ev: func(t *testing.T) events.ScanEvent {
				return testkit.ReferencedEvent(rep, testkit.MustRef(t, "team/app", "v2"), testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", "v1"))
			},
			wantKeys: []string{s3store.ArchiveKey("team/app", testkit.Digest, testkit.ScannedAt)},
			wantTags: [][]string{{"v1", "v2"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			archive := &fakeArchive{}
			h, _ := newTestHandler(t, testkit.SampleReports(rep), archive)
			if err := h.Handle(context.Background(), tc.ev(t)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(archive.puts) != len(tc.wantKeys) {
				t.Fatalf("%d objects written, want %d", len(archive.puts), len(tc.wantKeys))
			}
			for i, p := range archive.puts {
				if p.key != tc.wantKeys[i] {
					t.Errorf("object %d key = %q, want %q", i, p.key, tc.wantKeys[i])
				}
				doc := decodeDocument(t, p.body)
				if got := tagsIn(t, doc); !reflect.DeepEqual(got, tc.wantTags[i]) {
					t.Errorf("object %d tags = %q, want %q", i, got, tc.wantTags[i])
				}
				wantRepo := strings.Split(strings.TrimPrefix(p.key, s3store.ArchivePrefix), "/"+testkit.Digest.Hex()+"/")[0]
				if doc["repository"] != wantRepo || doc["digest"] != string(testkit.Digest) || doc["scanId"] != testkit.ScanID {
					t.Errorf("object %d names repository %v, digest %v, scan %v", i, doc["repository"], doc["digest"], doc["scanId"])
				}
				f := doc["findings"].(map[string]any)
				if n := len(f["vulnerabilities"].([]any)); n != len(rep.Vulnerabilities) {
					t.Errorf("object %d holds %d vulnerabilities, want the report's %d", i, n, len(rep.Vulnerabilities))
				}
				if n := len(f["secrets"].([]any)); n != len(rep.Secrets) {
					t.Errorf("object %d holds %d secrets, want the report's %d", i, n, len(rep.Secrets))
				}
			}
		})
	}
}

func TestHandleIsDeterministic(t *testing.T) {
	rep := testkit.Report()
	ev := testkit.CompletedEvent(rep, testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", "v1"))
	replay := ev
	replay.ReplayID = "replay-1"
	redelivered := ev
	redelivered.TraceHeader = "Root=1-00000000-000000000000000000000000"

	var runs [][]put
	for _, e := range []events.ScanEvent{ev, ev, replay, redelivered} {
		archive := &fakeArchive{}
		h, _ := newTestHandler(t, testkit.SampleReports(rep), archive)
		if err := h.Handle(context.Background(), e); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		runs = append(runs, archive.puts)
	}
	for i := 1; i < len(runs); i++ {
		if len(runs[i]) != len(runs[0]) {
			t.Fatalf("run %d wrote %d objects, run 0 wrote %d", i, len(runs[i]), len(runs[0]))
		}
		for j := range runs[0] {
			if runs[i][j].key != runs[0][j].key || !bytes.Equal(runs[i][j].body, runs[0][j].body) {
				t.Errorf("run %d object %d differs from run 0:\n%s %s\n%s %s", i, j, runs[i][j].key, runs[i][j].body, runs[0][j].key, runs[0][j].body)
			}
		}
	}
}

func TestHandleScanFailedArchivesNothing(t *testing.T) {
	reports, archive := testkit.SampleReports(testkit.Report()), &fakeArchive{}
	h, logs := newTestHandler(t, reports, archive)
	ev := testkit.CompletedEvent(testkit.Report(), testkit.MustRef(t, "team/app", "v1"))
	ev.EventType = domain.EventScanFailed
	ev.Summary, ev.Report = nil, nil
	ev.Failure = &domain.Failure{Class: domain.FailureQualysAuth, Reason: "token refused"}
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(archive.puts) != 0 || reports.Reads() != 0 {
		t.Errorf("ScanFailed wrote %d objects and read %d reports, want none", len(archive.puts), reports.Reads())
	}
	if !strings.Contains(logs.String(), "nothing to archive") {
		t.Errorf("no log line says the event was ignored:\n%s", logs)
	}
}

func TestHandleErrors(t *testing.T) {
	rep := testkit.Report()
	other := *rep
	other.Digest = domain.Digest("sha256:" + strings.Repeat("e", 64))
	throttled := errors.New("SlowDown")
	tests := []struct {
		name          string
		reports       *testkit.MemoryReportStore
		archiveErr    error
		mutate        func(*events.ScanEvent)
		wantPermanent bool
		wantIs        error
	}{
		{
			name:    "missing report is retried",
			reports: testkit.NewMemoryReportStore(),
			wantIs:  domain.ErrNotFound,
		},
		{
			name:    "S3 failure reading the report is retried",
			reports: unreadableReports(throttled),
			wantIs:  throttled,
		},
		{
			name:       "S3 failure writing the archive is retried",
			reports:    testkit.SampleReports(rep),
			archiveErr: throttled,
			wantIs:     throttled,
		},
		{
			name:          "invalid report location is permanent",
			reports:       unreadableReports(fmt.Errorf("get report: %w location", domain.ErrInvalid)),
			wantPermanent: true,
			wantIs:        domain.ErrInvalid,
		},
		{
			name:          "oversized report is permanent",
			reports:       unreadableReports(fmt.Errorf("get report: %w", s3store.ErrReportTooLarge)),
			wantPermanent: true,
			wantIs:        s3store.ErrReportTooLarge,
		},
		{
			name:          "report of another digest is permanent",
			reports:       testkit.SampleReports(&other),
			wantPermanent: true,
			wantIs:        domain.ErrInvalid,
		},
		{
			name:          "archive refusing the key is permanent",
			reports:       testkit.SampleReports(rep),
			archiveErr:    fmt.Errorf("%w key", domain.ErrInvalid),
			wantPermanent: true,
			wantIs:        domain.ErrInvalid,
		},
		{
			name:          "completed event without a report pointer is permanent",
			reports:       testkit.SampleReports(rep),
			mutate:        func(ev *events.ScanEvent) { ev.Report = nil },
			wantPermanent: true,
			wantIs:        domain.ErrInvalid,
		},
		{
			name:          "referenced event without a scan time is permanent",
			reports:       testkit.SampleReports(rep),
			mutate:        func(ev *events.ScanEvent) { ev.EventType = domain.EventImageReferenced; ev.ScannedAt = time.Time{} },
			wantPermanent: true,
			wantIs:        domain.ErrInvalid,
		},
		{
			name:          "unpublished event type is permanent",
			reports:       testkit.SampleReports(rep),
			mutate:        func(ev *events.ScanEvent) { ev.EventType = domain.EventScanStarted },
			wantPermanent: true,
			wantIs:        domain.ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			archive := &fakeArchive{err: tc.archiveErr}
			h, _ := newTestHandler(t, tc.reports, archive)
			ev := testkit.CompletedEvent(rep, testkit.MustRef(t, "team/app", "v1"))
			if tc.mutate != nil {
				tc.mutate(&ev)
			}
			err := h.Handle(context.Background(), ev)
			if err == nil {
				t.Fatal("Handle succeeded")
			}
			if got := consume.IsPermanent(err); got != tc.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tc.wantPermanent)
			}
			if !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), testkit.Digest.String()) {
				t.Errorf("error %q does not name the digest", err)
			}
			if tc.archiveErr == nil && len(archive.puts) != 0 {
				t.Errorf("%d objects written despite the failure", len(archive.puts))
			}
		})
	}
}

// A scanner's secret finding carries the matched text; the parser drops it
// because domain.Secret has no field for it. Decoding a report that still
// has such fields (as a future or foreign writer might produce) must not
// bring the text into the archive.
func TestHandleNeverArchivesSecretText(t *testing.T) {
	const leaked = "AKIAIOSFODNN7EXAMPLE"
	raw := `{"digest":"` + string(testkit.Digest) + `","vulnerabilities":[],"secrets":[{
		"ruleId":"aws-access-key-id","title":"AWS Access Key","severity":"HIGH","file":"/app/.env","startLine":3,
		"match":"` + leaked + `","secret":"` + leaked + `","text":"` + leaked + `","value":"` + leaked + `",
		"snippet":"key=` + leaked + `","Match":"` + leaked + `"}]}`
	var rep domain.Report
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatal(err)
	}
	archive := &fakeArchive{}
	h, logs := newTestHandler(t, testkit.SampleReports(&rep), archive)
	if err := h.Handle(context.Background(), testkit.CompletedEvent(&rep, testkit.MustRef(t, "team/app", "v1"))); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(archive.puts) != 1 {
		t.Fatalf("%d objects written, want 1", len(archive.puts))
	}
	body := string(archive.puts[0].body)
	if strings.Contains(body, leaked) || strings.Contains(logs.String(), leaked) {
		t.Fatalf("the secret's matched text reached the archive or the log:\n%s", body)
	}
	if !strings.Contains(body, `"ruleId":"aws-access-key-id"`) || !strings.Contains(body, `"file":"/app/.env"`) {
		t.Errorf("the secret's rule and file are missing:\n%s", body)
	}
}

// s3MaxKeyBytes is S3's limit on an object key: 1,024 bytes of UTF-8 (Amazon
// S3 User Guide, "Naming Amazon S3 objects").
const s3MaxKeyBytes = 1024

// A push with a 300-character tag (ECR's longest, domain.MaxTagLen) archives
// under a key that holds no tag (repository, digest and scan time only), so
// the key stays within S3's 1,024 bytes even beside the longest repository
// name; the document, which has no such limit, lists the tag whole.
func TestLongestTagStaysOutOfTheArchiveKey(t *testing.T) {
	tag := "v" + strings.Repeat("1.2-_", 59) + "abcd"
	rep := testkit.Report()
	tests := []struct{ name, repository string }{
		{"short repository", "team/app"},
		{"256-character repository", strings.Repeat("r", 120) + "/" + strings.Repeat("s", 135)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			archive := &fakeArchive{}
			h, _ := newTestHandler(t, testkit.SampleReports(rep), archive)
			if err := h.Handle(context.Background(), testkit.CompletedEvent(rep, testkit.MustRef(t, tc.repository, tag))); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(archive.puts) != 1 {
				t.Fatalf("%d objects written, want 1", len(archive.puts))
			}
			p := archive.puts[0]
			if len(p.key) > s3MaxKeyBytes || strings.Contains(p.key, tag[:20]) {
				t.Errorf("key of %d bytes (limit %d) holds the tag: %q", len(p.key), s3MaxKeyBytes, p.key)
			}
			if got := tagsIn(t, decodeDocument(t, p.body)); !reflect.DeepEqual(got, []string{tag}) {
				t.Errorf("document tags = %q, want the tag whole", got)
			}
		})
	}
}
