package qscanner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/testkit"
)

// maxFromQScanner is the stated bound for a scan record and its bus event
// when QScanner's output is as large as it can make them: with one
// reference, both stay within 32 KiB, an eighth of EventBridge's limit and
// under a tenth of DynamoDB's, whatever the size of the values QScanner wrote.
const maxFromQScanner = 32 << 10

// huge is a value of over 200 KiB: multi-byte characters, a line break and
// an escape among it, so that cuts must respect characters and lines.
var huge = strings.Repeat(hugeUnit, 200<<10/len(hugeUnit)+1)

const hugeUnit = "Ab9é-\n\x1b[1m"

func hugeList(n int) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = huge + string(rune('a'+i))
	}
	return l
}

// hugeScanResult is a ScanResult.json with huge values in every field the
// parser reads; withMetadata false leaves out QScannerVersion and Platform, so
// that they come from the SARIF file and the image config.
func hugeScanResult(withMetadata bool) map[string]any {
	md := map[string]any{
		"OS":          map[string]string{"Family": huge, "Name": huge},
		"ImageConfig": map[string]string{"os": huge, "architecture": huge, "variant": huge},
	}
	sr := map[string]any{
		"SchemaVersion":  2,
		"ScansPerformed": []any{map[string]string{"ScanType": "os"}, map[string]string{"ScanType": huge}},
		"Metadata":       md,
		"SecretResults": []any{map[string]any{"Target": huge, "Secrets": []any{map[string]any{
			"RuleID": huge, "Category": huge, "Severity": huge, "Title": huge, "StartLine": huge,
			"Match": huge, "Code": huge, "Layer": map[string]string{"DiffID": huge},
		}}}},
	}
	if withMetadata {
		sr["QScannerVersion"] = huge
		md["Platform"] = huge
	}
	return sr
}

// hugeSARIF is a SARIF report of more findings than a summary keeps, each
// with huge values in what a summary keeps of a finding (QID, title, CVEs,
// package names and versions), and huge run metadata. Other finding fields
// reach only the S3 report and are left small, to keep the file well under
// the parser's size limit.
func hugeSARIF() map[string]any {
	var rules, results []any
	for i, qid := range hugeList(domain.TopFindings + 1) {
		id := "rule-" + string(rune('a'+i))
		rules = append(rules, map[string]any{
			"id":         id,
			"properties": map[string]any{"title": huge, "severity": 5, "cve-ids": hugeList(2)},
		})
		var sw []any
		for range 2 {
			sw = append(sw, map[string]string{"name": huge, "installedVersion": huge, "fixedVersion": huge})
		}
		results = append(results, map[string]any{"ruleId": id, "properties": map[string]any{"QID": qid, "vulnerableSoftware": sw}})
	}
	return map[string]any{"version": "2.1.0", "runs": []any{map[string]any{
		"tool":       map[string]any{"driver": map[string]any{"name": "QScanner", "version": huge, "rules": rules}},
		"results":    results,
		"properties": map[string]any{"imageDigest": huge, "os": huge},
	}}}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// itemSize is a scans-table item's size as DynamoDB counts it (see bounds.go),
// numbers counted at one byte per digit, which is more than DynamoDB counts.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value) + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberM:
		return 3 + len(v.Value) + itemSize(v.Value)
	case *types.AttributeValueMemberL:
		n := 3 + len(v.Value)
		for _, e := range v.Value {
			n += valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	}
	return 1 // BOOL, NULL
}

// TestHugeQScannerValuesKeepRecordAndEventSmall feeds QScanner output with
// 200 KB values in every field the parser reads and checks that the scan
// record's item and its bus event, completed or failed with the partial
// report and the longest failure reason, stay within maxFromQScanner.
func TestHugeQScannerValuesKeepRecordAndEventSmall(t *testing.T) {
	tests := []struct {
		name         string
		withMetadata bool
	}{
		{"metadata in ScanResult.json", true},
		{"metadata from the SARIF run and the image config", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeJSON(t, filepath.Join(dir, "ab12-ScanResult.json"), hugeScanResult(tc.withMetadata))
			writeJSON(t, filepath.Join(dir, "ab12-Report.sarif.json"), hugeSARIF())
			rep, _, err := parseOutput(context.Background(), dir, parseOptions{})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(rep.Platform) > maxPlatform || len(rep.QScannerVersion) > maxVersion || len(rep.OS) > maxOS || len(rep.ScanTypes) > maxScanTypes {
				t.Errorf("report metadata not bounded: platform %d, version %d, OS %d bytes, %d scan types",
					len(rep.Platform), len(rep.QScannerVersion), len(rep.OS), len(rep.ScanTypes))
			}
			if strings.ContainsAny(rep.QScannerVersion+rep.OS, "\n\x1b") {
				t.Errorf("version %q or OS %q is not one line of text", rep.QScannerVersion, rep.OS)
			}
			res := domain.ScanResult{
				Summary:         domain.Summarize(rep),
				Report:          domain.ReportLocation{Bucket: testkit.Bucket, Key: "reports/" + testkit.ScanID + ".json"},
				Platform:        rep.Platform,
				QScannerVersion: rep.QScannerVersion,
			}
			reason := fail(domain.FailurePartialReport, 40, "%s", joinReason(meaning(40), sanitize(huge, redactTestToken)))
			reason.addReason("partial output unreadable: " + huge)
			for _, outcome := range []string{"completed", "failed"} {
				rec := recordOf(t, outcome, res, reason.f)
				checkRecordSize(t, outcome, rec)
			}
		})
	}
}

// recordOf is the scan record after a scan with res: completed, or failed
// finally with f and res as its partial result.
func recordOf(t *testing.T, outcome string, res domain.ScanResult, f domain.Failure) domain.ScanRecord {
	t.Helper()
	now := testkit.ScannedAt
	ref := testkit.MustRef(t, "team/app", "v1")
	s := domain.NewScan(ref.Digest)
	if _, err := s.Claim(domain.Claim{Ref: ref, Owner: "owner", Now: now, LeaseUntil: now.Add(15 * time.Minute)}); err != nil {
		t.Fatalf("claim: %v", err)
	}
	var err error
	if outcome == "completed" {
		err = s.Complete("owner", res, now, 24*time.Hour)
	} else {
		_, err = s.Fail("owner", f, &res, 1, now, 24*time.Hour)
	}
	if err != nil {
		t.Fatalf("%s: %v", outcome, err)
	}
	return s.Record()
}

func checkRecordSize(t *testing.T, outcome string, rec domain.ScanRecord) {
	t.Helper()
	item, err := dynamostore.MarshalScanRecord(rec)
	if err != nil {
		t.Fatalf("%s: %v", outcome, err)
	}
	if n := itemSize(item); n > maxFromQScanner {
		t.Errorf("%s: the record item is %d bytes, over %d", outcome, n, maxFromQScanner)
	}
	ev, err := events.NewScanEvent(rec)
	if err != nil {
		t.Fatalf("%s: bus event: %v", outcome, err)
	}
	entry, err := ev.Entry()
	if err != nil {
		t.Fatalf("%s: bus entry: %v", outcome, err)
	}
	if n := 14 + len(entry.Source) + len(entry.DetailType) + len(entry.Detail) + len(strings.Join(entry.Resources, "")); n > maxFromQScanner {
		t.Errorf("%s: the bus entry is %d bytes, over %d", outcome, n, maxFromQScanner)
	}
}

func TestBoundReport(t *testing.T) {
	tests := []struct {
		name string
		in   domain.Report
		want domain.Report
	}{
		{"real values kept", domain.Report{Platform: "linux/arm64/v8", QScannerVersion: "4.8.0-2", OS: "ubuntu 22.04", ScanTypes: []string{"os", "sca"}},
			domain.Report{Platform: "linux/arm64/v8", QScannerVersion: "4.8.0-2", OS: "ubuntu 22.04", ScanTypes: []string{"os", "sca"}}},
		{"platform in capitals lowered", domain.Report{Platform: "Linux/AMD64"}, domain.Report{Platform: "linux/amd64"}},
		{"platform not os/arch is unknown", domain.Report{Platform: "linux amd64; rm -rf"}, domain.Report{}},
		{"platform too long is unknown", domain.Report{Platform: "linux/" + strings.Repeat("a", maxPlatform)}, domain.Report{}},
		{"version made one line", domain.Report{QScannerVersion: " 4.8.0\r\n\x1b[0mbeta "}, domain.Report{QScannerVersion: "4.8.0 beta"}},
		{"version cut", domain.Report{QScannerVersion: strings.Repeat("9", maxVersion+1)},
			domain.Report{QScannerVersion: strings.Repeat("9", maxVersion-len(domain.Ellipsis)) + domain.Ellipsis}},
		{"OS cut on a character", domain.Report{OS: strings.Repeat("é", maxOS)},
			domain.Report{OS: strings.Repeat("é", (maxOS-len(domain.Ellipsis))/2) + domain.Ellipsis}},
		{"scan types not words dropped", domain.Report{ScanTypes: []string{"os", strings.Repeat("x", maxScanType+1), "secret"}},
			domain.Report{ScanTypes: []string{"os", "secret"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			boundReport(&got)
			if got.Platform != tc.want.Platform || got.QScannerVersion != tc.want.QScannerVersion || got.OS != tc.want.OS ||
				strings.Join(got.ScanTypes, ",") != strings.Join(tc.want.ScanTypes, ",") {
				t.Errorf("boundReport = %+v, want %+v", got, tc.want)
			}
		})
	}
}
