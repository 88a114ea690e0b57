package s3store

import (
	"bytes"
	"compress/gzip"
	"context"
	"ecrscanner/infra/ops/testkit"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"ecrscanner/domain"
)

// collect walks the report at loc and rebuilds it from what the visitor saw,
// checking that the head came once and before every finding.
func collect(t *testing.T, store *Reports, loc domain.ReportLocation) (*domain.Report, error) {
	t.Helper()
	var r *domain.Report
	heads := 0
	v := domain.ReportVisitor{
		Head: func(h domain.ReportHead) error {
			heads++
			r = &domain.Report{Digest: h.Digest, Platform: h.Platform, OS: h.OS, QScannerVersion: h.QScannerVersion, ScanTypes: h.ScanTypes, Partial: h.Partial,
				Vulnerabilities: []domain.Vulnerability{}, Secrets: []domain.Secret{}}
			return nil
		},
		Vulnerability: func(f domain.Vulnerability) error {
			if r == nil {
				t.Fatal("a vulnerability came before the head")
			}
			r.Vulnerabilities = append(r.Vulnerabilities, f)
			return nil
		},
		Secret: func(s domain.Secret) error {
			if r == nil {
				t.Fatal("a secret came before the head")
			}
			r.Secrets = append(r.Secrets, s)
			return nil
		},
	}
	err := store.WalkReport(context.Background(), loc, v)
	if err == nil && heads != 1 {
		t.Errorf("head handed over %d times, want once", heads)
	}
	return r, err
}

// TestWalkReportReadsWhatGetReportReads: on every input of TestGetReport's
// kind, a walk sees the report GetReport returns, or fails as it does.
func TestWalkReportReadsWhatGetReportReads(t *testing.T) {
	plainJSON, _ := json.Marshal(sampleReport())
	var written bytes.Buffer
	if err := encodeReport(&written, sampleReport()); err != nil {
		t.Fatal(err)
	}
	empty := &domain.Report{Digest: testDigest}
	cases := []struct {
		name    string
		body    []byte
		want    *domain.Report
		wantIs  error
		wantErr string
	}{
		{name: "as PutReport writes it", body: written.Bytes(), want: sampleReport()},
		{name: "gzip", body: gzipBytes(t, plainJSON), want: sampleReport()},
		{name: "already inflated by the transport", body: plainJSON, want: sampleReport()},
		{name: "null and absent finding lists", body: gzipBytes(t, []byte(`{"digest":"`+string(testDigest)+`","vulnerabilities":null}`)), want: normalized(empty)},
		{name: "keys in another case", body: []byte(`{"Digest":"` + string(testDigest) + `","SECRETS":[{"ruleId":"r","severity":"LOW","file":"f"}]}`),
			want: &domain.Report{Digest: testDigest, Vulnerabilities: []domain.Vulnerability{}, Secrets: []domain.Secret{{RuleID: "r", Severity: domain.SeverityLow, File: "f"}}}},
		{name: "missing object", wantIs: domain.ErrNotFound, wantErr: "no such object"},
		{name: "not JSON", body: gzipBytes(t, []byte("<html>")), wantErr: "decode report"},
		{name: "not an object", body: []byte(`[1]`), wantIs: domain.ErrInvalid, wantErr: "not a JSON object"},
		{name: "finding list not an array", body: []byte(`{"vulnerabilities":{}}`), wantIs: domain.ErrInvalid, wantErr: "not an array"},
		{name: "bad severity", body: []byte(`{"secrets":[{"severity":"SCARY"}]}`), wantIs: domain.ErrInvalid, wantErr: "SCARY"},
		{name: "field after the findings", body: []byte(`{"vulnerabilities":[],"digest":"` + string(testDigest) + `"}`), wantIs: domain.ErrInvalid, wantErr: `field "digest" follows the findings`},
		{name: "vulnerabilities after secrets", body: []byte(`{"secrets":[],"vulnerabilities":[]}`), wantIs: domain.ErrInvalid, wantErr: "vulnerabilities follow the secrets"},
		{name: "two JSON values", body: gzipBytes(t, append(append([]byte{}, plainJSON...), plainJSON...)), wantErr: "trailing data"},
		{name: "truncated gzip", body: gzipBytes(t, plainJSON)[:40], wantErr: "unexpected EOF"},
		{name: "corrupt checksum", body: corruptTrailer(gzipBytes(t, plainJSON)), wantErr: "checksum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := testkit.NewMemoryObjects()
			store, _ := NewReports(fake, testBucket)
			loc := domain.ReportLocation{Bucket: testBucket, Key: "reports/x/scan.json.gz"}
			if tc.body != nil {
				fake.Put(testBucket, loc.Key, tc.body)
			}
			got, err := collect(t, store, loc)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("WalkReport: %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("walked %+v, want %+v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatal("WalkReport succeeded, want an error")
			}
			if !strings.Contains(err.Error(), "get report s3://"+testBucket+"/"+loc.Key) {
				t.Errorf("error = %v, want it to name the object", err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error = %v, want one wrapping %v", err, tc.wantIs)
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestWalkReportRefusesAnEmptyLocation(t *testing.T) {
	store, _ := NewReports(testkit.NewMemoryObjects(), testBucket)
	err := store.WalkReport(context.Background(), domain.ReportLocation{Key: "k"}, domain.ReportVisitor{})
	if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "bucket and key are required") {
		t.Fatalf("error = %v, want ErrInvalid naming the missing parts", err)
	}
}

// TestWalkReportStopsAGzipBomb: the size bound holds for a walk too, inside
// a finding list as well as in the head.
func TestWalkReportStopsAGzipBomb(t *testing.T) {
	for name, prefix := range map[string]string{
		"head":     `{"digest":"` + string(testDigest) + `","os":"`,
		"findings": `{"digest":"` + string(testDigest) + `","vulnerabilities":[{"qid":"1","severity":"LOW","title":"`,
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = io.WriteString(zw, prefix)
			_, _ = zw.Write(bytes.Repeat([]byte("0"), 4<<20))
			_, _ = io.WriteString(zw, `"}]}`)
			_ = zw.Close()
			fake := testkit.NewMemoryObjects()
			fake.Put(testBucket, "bomb.json.gz", buf.Bytes())
			store, _ := NewReports(fake, testBucket)
			store.maxBytes = 1 << 20
			err := store.WalkReport(context.Background(), domain.ReportLocation{Bucket: testBucket, Key: "bomb.json.gz"}, domain.ReportVisitor{})
			if !errors.Is(err, ErrReportTooLarge) || !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error = %v, want ErrReportTooLarge (ErrInvalid)", err)
			}
		})
	}
}

// TestWalkReportReturnsTheVisitorsError: an error of the visitor stops the
// walk and comes back as it is, with no findings after it; ErrStopWalk ends
// the walk with no error.
func TestWalkReportReturnsTheVisitorsError(t *testing.T) {
	fake := testkit.NewMemoryObjects()
	store, _ := NewReports(fake, testBucket)
	loc, err := store.PutReport(context.Background(), "scan-1", sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	seen := 0
	err = store.WalkReport(context.Background(), loc, domain.ReportVisitor{
		Vulnerability: func(domain.Vulnerability) error { seen++; return boom },
		Secret:        func(domain.Secret) error { seen++; return nil },
	})
	if err != boom || seen != 1 {
		t.Errorf("error = %v after %d findings, want boom itself after 1", err, seen)
	}

	seen = 0
	err = store.WalkReport(context.Background(), loc, domain.ReportVisitor{
		Head:          func(domain.ReportHead) error { return domain.ErrStopWalk },
		Vulnerability: func(domain.Vulnerability) error { seen++; return nil },
	})
	if err != nil || seen != 0 {
		t.Errorf("stopped at the head: error = %v after %d findings, want nil after 0", err, seen)
	}
}

// TestWalkReportHandsOverFreshFindings: no finding shares memory with the
// next, so a visitor may keep them.
func TestWalkReportHandsOverFreshFindings(t *testing.T) {
	fake := testkit.NewMemoryObjects()
	store, _ := NewReports(fake, testBucket)
	rep := sampleReport()
	rep.Vulnerabilities[1].CVEs = []string{"CVE-2024-9999"}
	loc, err := store.PutReport(context.Background(), "scan-1", rep)
	if err != nil {
		t.Fatal(err)
	}
	var kept []domain.Vulnerability
	if err := store.WalkReport(context.Background(), loc, domain.ReportVisitor{
		Vulnerability: func(v domain.Vulnerability) error { kept = append(kept, v); return nil },
	}); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 || kept[0].CVEs[0] != "CVE-2024-0001" || kept[1].CVEs[0] != "CVE-2024-9999" {
		t.Errorf("kept %+v, want each finding's own CVEs", kept)
	}
}

// TestWalkReportHeadDecodesAsAWholeReport: head fields decode with
// domain.Report's rules (a field it lacks is dropped, a bad value refused).
func TestWalkReportHeadDecodesAsAWholeReport(t *testing.T) {
	fake := testkit.NewMemoryObjects()
	store, _ := NewReports(fake, testBucket)
	loc := domain.ReportLocation{Bucket: testBucket, Key: "r.json"}
	fake.Put(testBucket, loc.Key, []byte(`{"digest":"`+string(testDigest)+`","unknown":{"deep":[1,2,3]},"os":"alpine","partial":true,"scanTypes":["os"]}`))
	got, err := collect(t, store, loc)
	if err != nil {
		t.Fatal(err)
	}
	want := &domain.Report{Digest: testDigest, OS: "alpine", Partial: true, ScanTypes: []string{"os"}, Vulnerabilities: []domain.Vulnerability{}, Secrets: []domain.Secret{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("walked %+v, want %+v", got, want)
	}
	fake.Put(testBucket, loc.Key, []byte(`{"partial":"yes"}`))
	if _, err := collect(t, store, loc); err == nil || !strings.Contains(err.Error(), "decode report") {
		t.Errorf("a bad head value: error = %v, want a decode error", err)
	}
}
