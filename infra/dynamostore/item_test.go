package dynamostore_test

import (
	"reflect"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/testkit"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fullRecord exercises every kind of field the item format must carry: times
// with nanoseconds, an embedded struct, pointers, enums with text forms,
// nested slices and omitempty fields both set and empty.
func fullRecord(t *testing.T) domain.ScanRecord {
	d := testkit.RandomDigest(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	ref := testkit.MustRefOf(t, d, "team/app", "v1.2.3")
	return domain.ScanRecord{
		Digest:   d,
		Status:   domain.StatusCompleted,
		ScanID:   "0123456789abcdef0123456789abcdef",
		Attempts: 2,
		Lease:    &domain.Lease{Owner: "owner-1", Expires: at.Add(time.Minute), Request: "059f36b4-87a3-44ab-83d2-661975830a7d"},
		References: []domain.Reference{
			{ImageRef: ref, FirstSeen: at},
			{ImageRef: testkit.MustRefOf(t, d, "team/other", ""), FirstSeen: at.Add(time.Second)},
		},
		Summary: &domain.Summary{
			Vulnerabilities: domain.Counts{Critical: 1, High: 2, Unknown: 3},
			Fixable:         domain.Counts{High: 1},
			Secrets:         1,
			SecretSeverity:  domain.Counts{Medium: 1},
			Top: []domain.Vulnerability{{
				QID: "12345", Title: "openssl", Severity: domain.SeverityCritical, QualysSeverity: 5,
				CVEs: []string{"CVE-2024-0001"}, CVSS3: 9.8,
				Packages: []domain.Package{{Name: "openssl", InstalledVersion: "3.0.1", FixedVersion: "3.0.2"}},
			}, {QID: "2", Severity: domain.SeverityUnknown}},
			Partial: true,
		},
		Report:          &domain.ReportLocation{Bucket: "reports", Key: "sha256/abc.json"},
		Platform:        "linux/amd64",
		QScannerVersion: "4.2.0",
		StartedBy:       ref,
		StartedAt:       at,
		CompletedAt:     at.Add(time.Minute),
		Failure:         &domain.Failure{Class: domain.FailurePartialReport, Reason: "exit 40", ExitCode: 40},
		FinalFailure:    true,
		ExpiresAt:       at.Add(24 * time.Hour).Unix(),
		TraceHeader:     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		Stored: &domain.StoredResult{
			Summary:  domain.Summary{Vulnerabilities: domain.Counts{High: 1}, Top: []domain.Vulnerability{{QID: "7", Severity: domain.SeverityHigh}}},
			Report:   domain.ReportLocation{Bucket: "reports", Key: "reports/abc/scan.json.gz"},
			Platform: "linux/arm64", QScannerVersion: "4.2.0", ScanID: "fedcba9876543210fedcba9876543210",
		},
		Event:   domain.Event{Type: domain.EventScanCompleted, ID: "e1", At: at, Ref: ref},
		Version: 7,
	}
}

func TestScanRecordRoundTrip(t *testing.T) {
	d := testkit.RandomDigest(t)
	tests := []struct {
		name string
		rec  domain.ScanRecord
	}{
		{name: "every field set", rec: fullRecord(t)},
		{name: "new record", rec: domain.ScanRecord{Digest: d, Version: 1}},
		{name: "empty lists", rec: domain.ScanRecord{Digest: d, References: []domain.Reference{}, Summary: &domain.Summary{}}},
		{name: "as the domain writes it", rec: func() domain.ScanRecord {
			s := domain.NewScan(d)
			now := time.Now().UTC().Truncate(0)
			if _, err := s.Claim(domain.Claim{Ref: testkit.MustRefOf(t, d, "app", "latest"), Owner: "o", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			rep := &domain.Report{Digest: d, Vulnerabilities: []domain.Vulnerability{{QID: "1", Severity: domain.SeverityHigh}}}
			if err := s.Complete("o", domain.ScanResult{Summary: domain.Summarize(rep)}, now, time.Hour); err != nil {
				t.Fatal(err)
			}
			return s.Record()
		}()},
		{name: "released with its report stored", rec: func() domain.ScanRecord {
			s := domain.NewScan(d)
			now := time.Now().UTC().Truncate(0)
			if _, err := s.Claim(domain.Claim{Ref: testkit.MustRefOf(t, d, "app", "latest"), Owner: "o", Request: "msg-1", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			rep := &domain.Report{Digest: d, Vulnerabilities: []domain.Vulnerability{{QID: "1", Severity: domain.SeverityHigh}}}
			stored := domain.ScanResult{Summary: domain.Summarize(rep), Report: domain.ReportLocation{Bucket: "reports", Key: "k"}}
			if err := s.Release("o", domain.Failure{Class: domain.FailureInternal, Reason: "throttled"}, &stored, now); err != nil {
				t.Fatal(err)
			}
			return s.Record()
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			item, err := dynamostore.MarshalScanRecord(tc.rec)
			if err != nil {
				t.Fatalf("dynamostore.MarshalScanRecord: %v", err)
			}
			got, err := dynamostore.UnmarshalScanRecord(item)
			if err != nil {
				t.Fatalf("dynamostore.UnmarshalScanRecord: %v", err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Errorf("round trip changed the record\n got: %+v\nwant: %+v", got, tc.rec)
			}
		})
	}
}

// TestScanRecordItemShape pins the attribute names and types that the table
// definition, the TTL setting, the Pipe's filter and stream readers rely on.
func TestScanRecordItemShape(t *testing.T) {
	item, err := dynamostore.MarshalScanRecord(fullRecord(t))
	if err != nil {
		t.Fatal(err)
	}
	m := func(av types.AttributeValue) map[string]types.AttributeValue {
		t.Helper()
		v, ok := av.(*types.AttributeValueMemberM)
		if !ok {
			t.Fatalf("got %T, want a map", av)
		}
		return v.Value
	}
	refs, ok := item["references"].(*types.AttributeValueMemberL)
	if !ok || len(refs.Value) != 2 {
		t.Fatalf("references = %#v, want a list of 2", item["references"])
	}
	top := m(item["summary"])["top"].(*types.AttributeValueMemberL).Value[0]
	tests := []struct {
		name string
		av   types.AttributeValue
		want types.AttributeValue
	}{
		{"digest is the string key", item["digest"], &types.AttributeValueMemberS{}},
		{"expiresAt is a number, as TTL requires", item["expiresAt"], &types.AttributeValueMemberN{}},
		{"version is a number", item["version"], &types.AttributeValueMemberN{}},
		{"status is a string", item["status"], &types.AttributeValueMemberS{}},
		{"event is a map", item["event"], &types.AttributeValueMemberM{}},
		{"event type is a string", m(item["event"])["type"], &types.AttributeValueMemberS{}},
		{"event time is a string", m(item["event"])["at"], &types.AttributeValueMemberS{}},
		{"embedded ImageRef is flattened", m(refs.Value[0])["repository"], &types.AttributeValueMemberS{}},
		{"severity is its name", m(top)["severity"], &types.AttributeValueMemberS{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if reflect.TypeOf(tc.av) != reflect.TypeOf(tc.want) {
				t.Errorf("got %T, want %T", tc.av, tc.want)
			}
		})
	}
	if got := m(top)["severity"].(*types.AttributeValueMemberS).Value; got != "CRITICAL" {
		t.Errorf("severity = %q, want CRITICAL", got)
	}
	if _, ok := m(refs.Value[1])["tag"]; ok {
		t.Error("empty tag stored despite omitempty")
	}
	if _, ok := m(refs.Value[0])["ImageRef"]; ok {
		t.Error("embedded ImageRef stored as a nested map, want its fields flattened")
	}
}
