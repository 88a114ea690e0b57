package main

import (
	"fmt"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

// BenchmarkArchiveDocument encodes the document of a 20,000-finding report,
// the size the design plans for. Compare B/op with the function's memory.
func BenchmarkArchiveDocument(b *testing.B) {
	rep := &domain.Report{Digest: testkit.Digest, Platform: "linux/amd64", QScannerVersion: "4.8.0"}
	for i := range 20_000 {
		rep.Vulnerabilities = append(rep.Vulnerabilities, domain.Vulnerability{
			QID: fmt.Sprint(100000 + i), Title: fmt.Sprintf("Debian Security Update for package-%d", i%900),
			Severity: domain.Severities[i%len(domain.Severities)], CVEs: []string{fmt.Sprintf("CVE-2024-%05d", i)}, CVSS3: float64(i%100) / 10,
			Packages: []domain.Package{{Name: fmt.Sprintf("package-%d", i%900), InstalledVersion: "1.2.3-4", FixedVersion: "1.2.3-5", Path: "/var/lib/dpkg/status"}},
		})
	}
	ev := testkit.CompletedEvent(rep, testkit.MustRef(b, "team/app", "v1"))
	repo := ev.Repositories()[0]
	b.ReportAllocs()
	var n int
	for b.Loop() {
		body, err := newDocument(ev, repo, rep).encode()
		if err != nil {
			b.Fatal(err)
		}
		n = len(body)
	}
	b.ReportMetric(float64(n), "doc-bytes")
}
