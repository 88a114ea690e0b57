package domain_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
)

// dynamoMaxItemBytes is DynamoDB's item size limit, 400 KB (Amazon DynamoDB
// Developer Guide, "Quotas": "The maximum item size in DynamoDB is 400 KB").
const dynamoMaxItemBytes = 400 << 10

// The scan record keeps up to domain.MaxReferences references, each with its
// tag. At ECR's longest tags (domain.MaxTagLen, 300 characters, well past
// the 128 registry clients stop at) beside the longest repository name and a
// summary of hostile findings, the record still fits one DynamoDB item, so
// long tags need no cut there.
func TestScanRecordWithLongestTagsFitsAnItem(t *testing.T) {
	at := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	hostile := strings.Repeat("<", 10_000)
	v := domain.Vulnerability{QID: hostile, Title: hostile, CVEs: []string{hostile, hostile, hostile, hostile, hostile}}
	for range 3 {
		v.Packages = append(v.Packages, domain.Package{Name: hostile, InstalledVersion: hostile, FixedVersion: hostile})
	}
	var rep domain.Report
	for range domain.TopFindings {
		rep.Vulnerabilities = append(rep.Vulnerabilities, v)
	}
	tagOf := func(i int) string { return fmt.Sprintf("t%0*d", domain.MaxTagLen-1, i) }
	first, err := domain.NewImageRef(testAccount, "eusc-de-east-1", strings.Repeat("a", 256), testDigest, tagOf(0))
	if err != nil {
		t.Fatal(err)
	}
	owner := strings.Repeat("o", 64)
	s := domain.NewScan(first.Digest)
	if _, err := s.Claim(domain.Claim{Ref: first, Owner: owner, Now: at, LeaseUntil: at.Add(15 * time.Minute), TraceHeader: strings.Repeat("h", 256)}); err != nil {
		t.Fatal(err)
	}
	res := domain.ScanResult{Summary: domain.Summarize(&rep), Report: domain.ReportLocation{Bucket: strings.Repeat("b", 63), Key: strings.Repeat("k", 1024)}}
	if err := s.Complete(owner, res, at, 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	later := at.Add(time.Minute)
	for i := range domain.MaxReferences {
		ref := first
		ref.Tag = tagOf(i + 1)
		if _, err := s.Claim(domain.Claim{Ref: ref, Owner: "x", Now: later, LeaseUntil: later.Add(15 * time.Minute), TraceHeader: "Root=1-x"}); err != nil {
			t.Fatal(err)
		}
	}
	rec := s.Record()
	if n := len(rec.References); n != domain.MaxReferences || len(rec.References[n-1].Tag) != domain.MaxTagLen {
		t.Fatalf("record keeps %d references, the last tagged %q; want %d of %d-character tags", n, rec.References[n-1].Tag, domain.MaxReferences, domain.MaxTagLen)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("record JSON with %d references of %d-character tags: %d bytes", domain.MaxReferences, domain.MaxTagLen, len(b))
	if len(b) > dynamoMaxItemBytes {
		t.Errorf("record JSON is %d bytes, over DynamoDB's item limit of %d", len(b), dynamoMaxItemBytes)
	}
}
