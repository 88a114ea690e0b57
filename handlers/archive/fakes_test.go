package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
)

const (
	testDigest  = domain.Digest("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	testAccount = "123456789012"
	testRegion  = "eu-west-1"
	testScanID  = "5f2b0c1e9a7d4e3f8b6a1c0d2e4f6a8b"
	testBucket  = "scanner-results-123456789012"
)

var testScannedAt = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeReports is a hand-written reportReader serving reports by location.
type fakeReports struct {
	mu      sync.Mutex
	reports map[domain.ReportLocation]*domain.Report
	err     error
	reads   int
}

func (f *fakeReports) GetReport(_ context.Context, loc domain.ReportLocation) (*domain.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	r, ok := f.reports[loc]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return r, nil
}

type put struct {
	key  string
	body []byte
}

// fakeArchive is a hand-written archiver that records every Put in order.
type fakeArchive struct {
	mu   sync.Mutex
	puts []put
	err  error
}

func (f *fakeArchive) Put(_ context.Context, key string, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.puts = append(f.puts, put{key: key, body: append([]byte(nil), body...)})
	return nil
}

func mustRef(t *testing.T, repository, tag string) domain.ImageRef {
	t.Helper()
	r, err := domain.NewImageRef(testAccount, testRegion, repository, string(testDigest), tag)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testLocation() domain.ReportLocation {
	return domain.ReportLocation{Bucket: testBucket, Key: "reports/" + testDigest.Hex() + "/" + testScanID + ".json.gz"}
}

// testReport has both kinds of finding, characters JSON escapes, and a
// secret (which, as in every report, has no matched text).
func testReport() *domain.Report {
	return &domain.Report{
		Digest:          testDigest,
		Platform:        "linux/amd64",
		OS:              "alpine 3.20",
		QScannerVersion: "4.8.0",
		ScanTypes:       []string{"pkg", "secret"},
		Vulnerabilities: []domain.Vulnerability{
			{
				QID: "379201", Title: "OpenSSL <Multiple> \"Vulnerabilities\" & more", Severity: domain.SeverityCritical,
				QualysSeverity: 5, CVEs: []string{"CVE-2024-0001", "CVE-2024-0002"}, CVSS3: 9.8, Category: "Alpine",
				Packages: []domain.Package{{Name: "openssl", InstalledVersion: "3.1.0-r0", FixedVersion: "3.1.5-r0", Path: "/lib/apk/db/installed", Layer: "sha256:aa"}},
			},
			{
				QID: "380112", Title: "BusyBox Use-After-Free", Severity: domain.SeverityHigh,
				QualysSeverity: 4, CVEs: []string{"CVE-2023-42363"}, CVSS3: 7.5,
				Packages: []domain.Package{{Name: "busybox", InstalledVersion: "1.36.1-r2"}},
			},
		},
		Secrets: []domain.Secret{
			{RuleID: "aws-access-key-id", Category: "AWS", Title: "AWS Access Key", Severity: domain.SeverityHigh, File: "/app/.env", StartLine: 3, EndLine: 3, Layer: "sha256:bb"},
		},
	}
}

// completedEvent is a ScanCompleted event for a scan of testReport, known
// under refs (the first started the scan).
func completedEvent(rep *domain.Report, refs ...domain.ImageRef) events.ScanEvent {
	sum := domain.Summarize(rep)
	loc := testLocation()
	return events.ScanEvent{
		SchemaVersion:   events.SchemaVersion,
		DetailType:      events.DetailTypeScanCompleted,
		EventID:         "0c1d2e3f405162738495a6b7c8d9eaf0",
		EventType:       domain.EventScanCompleted,
		Time:            testScannedAt,
		ScanID:          testScanID,
		Digest:          testDigest,
		Ref:             refs[0],
		References:      refs,
		Status:          domain.StatusCompleted,
		Summary:         &sum,
		Report:          &loc,
		Platform:        rep.Platform,
		QScannerVersion: rep.QScannerVersion,
		ScannedAt:       testScannedAt,
	}
}

// referencedEvent is the ImageReferenced event of a later push of newRef:
// refs are the references known before it.
func referencedEvent(rep *domain.Report, newRef domain.ImageRef, refs ...domain.ImageRef) events.ScanEvent {
	ev := completedEvent(rep, append(append([]domain.ImageRef(nil), refs...), newRef)...)
	ev.EventType = domain.EventImageReferenced
	ev.DetailType = events.DetailTypeImageReferenced
	ev.EventID = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	ev.Time = testScannedAt.Add(72 * time.Hour)
	ev.Ref = newRef
	return ev
}

func newTestHandler(t *testing.T, reports reportReader, archive archiver) (*Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	h, err := NewHandler(reports, archive, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h, &logs
}

func reportsWith(rep *domain.Report) *fakeReports {
	return &fakeReports{reports: map[domain.ReportLocation]*domain.Report{testLocation(): rep}}
}
