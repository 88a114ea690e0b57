package events_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

// The ScanCompleted event of a forced rescan carries its cause and its
// difference from the previous scan; the golden file pins the shape.
func TestRescanEventGolden(t *testing.T) {
	recs := newBusRecords(t)
	s := domain.ScanFromRecord(recs.referenced)
	prev, ok := s.ReportLocation()
	if !ok {
		t.Fatal("the sample record has no report")
	}
	at := recs.referenced.CompletedAt.Add(7 * 24 * time.Hour)
	c := domain.Claim{Ref: recs.referenced.StartedBy, Owner: "scan-r1", Now: at, LeaseUntil: at.Add(15 * time.Minute), TraceHeader: busTrace,
		Origin: domain.Origin{Cause: domain.CauseRescan, RequestedBy: "sweep", NotBefore: at.Add(-7 * 24 * time.Hour)}}
	if d, err := s.Claim(c); err != nil || d != domain.DecideScan {
		t.Fatalf("rescan claim = %v, %v", d, err)
	}
	r := s.Record()
	r.ScanID, r.Event.ID = "8e2d6f0a4c3b5d7f9b1c2e4a6f8d0b3c", "5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d"
	s = domain.ScanFromRecord(r)
	// Since the first scan: the tar finding was fixed, a new critical appeared.
	rep := busReport()
	rep.Vulnerabilities = append(rep.Vulnerabilities[1:], domain.Vulnerability{QID: "380001", Title: "glibc buffer overflow", Severity: domain.SeverityCritical, QualysSeverity: 5, CVEs: []string{"CVE-2099-0001"}, CVSS3: 9.8})
	differ := domain.NewDiffer(domain.PreviousScan{ScanID: busScanID, CompletedAt: recs.completed.CompletedAt, Report: &prev}, rep)
	if err := busReport().Walk(differ.Visitor()); err != nil {
		t.Fatal(err)
	}
	diff := differ.Diff()
	res := domain.ScanResult{Summary: domain.Summarize(rep), Report: domain.ReportLocation{Bucket: prev.Bucket, Key: "reports/" + r.ScanID + ".json.gz"}, Platform: rep.Platform, QScannerVersion: rep.QScannerVersion, Changes: &diff}
	if err := s.Complete("scan-r1", res, at.Add(2*time.Minute), 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	r = s.Record()
	r.Event.ID = "6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"
	ev := newBusEvent(t, r)
	if ev.Cause != domain.CauseRescan || ev.Changes == nil || ev.Changes.NewVulnerabilities.Critical != 1 || ev.Changes.FixedVuln.Medium != 1 {
		t.Errorf("rescan event: cause %q, changes %+v", ev.Cause, ev.Changes)
	}
	if err := ev.Validate(); err != nil {
		t.Error(err)
	}
	got, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join(busDir, "scan-completed-rescan.golden.json"), append(got, '\n'))
}
