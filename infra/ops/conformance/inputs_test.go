package conformance_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

// The longest legal inputs: what ECR and the scanner can hand the functions.
const (
	account = "123456789012"
	region  = "us-east-1"
	// invalidUTF8 is what a scanner's output can carry: a lone continuation
	// byte and a truncated multi-byte sequence.
	invalidUTF8 = "bad \x80 bytes \xe2\x82"
)

var at = time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)

// longRepository is a 256-character ECR repository name (ECR's maximum) with
// slashes, the i-th of a family of distinct ones.
func longRepository(i int) string {
	head := fmt.Sprintf("team%03d/", i)
	seg := strings.Repeat("a", 30) + "/"
	name := head
	for len(name)+len(seg) < 256 {
		name += seg
	}
	return name + strings.Repeat("z", 256-len(name))
}

// longTag is a 300-character tag (domain.MaxTagLen).
func longTag(i int) string {
	p := fmt.Sprintf("v%03d_", i)
	return p + strings.Repeat("t", domain.MaxTagLen-len(p))
}

func longRef(t *testing.T, i int) domain.ImageRef {
	t.Helper()
	ref, err := domain.NewImageRef(account, region, longRepository(i), string(testkit.Digest), longTag(i))
	if err != nil {
		t.Fatalf("longest legal reference refused: %v", err)
	}
	return ref
}

// maximalScan is a completed scan of testkit.Digest referenced from
// domain.MaxReferences long references, its failure text (when failed)
// carrying invalid UTF-8 as a scanner's stderr can.
func maximalScan(t *testing.T, failed bool) *domain.Scan {
	t.Helper()
	s := domain.NewScan(testkit.Digest)
	claim := func(owner string, i int) {
		if _, err := s.Claim(domain.Claim{Ref: longRef(t, i), Owner: owner, Request: fmt.Sprintf("req-%d", i), Now: at, LeaseUntil: at.Add(15 * time.Minute),
			TraceHeader: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}); err != nil && err != domain.ErrUnchanged {
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	claim("owner-0", 0)
	for i := 1; i < domain.MaxReferences+5; i++ { // past the bound: the store keeps MaxReferences
		claim(fmt.Sprintf("owner-%d", i), i)
	}
	res := domain.ScanResult{
		Summary:  domain.Summary{Vulnerabilities: domain.Counts{Critical: 20000}, Secrets: 1},
		Report:   domain.ReportLocation{Bucket: "results-bucket", Key: "reports/" + testkit.Digest.Hex() + "/" + domain.NewID() + ".json.gz"},
		Platform: "linux/arm64/v8", QScannerVersion: "4.8.0-" + strings.Repeat("9", 40),
	}
	if failed {
		if _, err := s.Fail("owner-0", domain.Failure{Class: domain.FailureScanner, Reason: strings.Repeat(invalidUTF8, 400), ExitCode: 255}, &res, 1, at.Add(time.Minute), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := s.Complete("owner-0", res, at.Add(time.Minute), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	return s
}
