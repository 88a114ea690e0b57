package s3store

import (
	"fmt"

	"ecrscanner/domain"
)

const testDigest = domain.Digest("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")

// sampleReport has every field set, characters that JSON escapes, and both
// kinds of finding.
func sampleReport() *domain.Report {
	return &domain.Report{
		Digest:          testDigest,
		Platform:        "linux/amd64",
		OS:              "alpine 3.20",
		QScannerVersion: "4.8.0",
		ScanTypes:       []string{"os", "sca", "secret"},
		Partial:         true,
		Vulnerabilities: []domain.Vulnerability{
			{
				QID: "379201", Title: "OpenSSL <script>\"quoted\" & ünïcode", Severity: domain.SeverityCritical,
				QualysSeverity: 5, CVEs: []string{"CVE-2024-0001", "CVE-2024-0002"}, CVSS3: 9.8, Category: "Alpine",
				Packages: []domain.Package{{Name: "openssl", InstalledVersion: "3.1.0", FixedVersion: "3.1.5", Path: "/lib/apk/db/installed", Layer: "sha256:aa"}},
			},
			{QID: "1", Severity: domain.SeverityUnknown},
		},
		Secrets: []domain.Secret{
			{RuleID: "aws-access-key-id", Category: "AWS", Title: "AWS Access Key", Severity: domain.SeverityHigh, File: "/app/.env", StartLine: 3, EndLine: 3, Layer: "sha256:bb"},
		},
	}
}

// bigReport is a report of n vulnerabilities shaped like real QScanner output.
func bigReport(n int) *domain.Report {
	r := &domain.Report{Digest: testDigest, Platform: "linux/amd64", OS: "debian 12", QScannerVersion: "4.8.0", ScanTypes: []string{"pkg", "secret"}}
	r.Vulnerabilities = make([]domain.Vulnerability, n)
	for i := range r.Vulnerabilities {
		r.Vulnerabilities[i] = domain.Vulnerability{
			QID:            fmt.Sprintf("%d", 100000+i),
			Title:          fmt.Sprintf("Debian Security Update for package-%d (DSA-%d-1)", i%900, 5000+i),
			Severity:       domain.Severities[i%len(domain.Severities)],
			QualysSeverity: 1 + i%5,
			CVEs:           []string{fmt.Sprintf("CVE-2024-%05d", i), fmt.Sprintf("CVE-2023-%05d", i)},
			CVSS3:          float64(i%100) / 10,
			Category:       "Debian",
			Packages: []domain.Package{{
				Name: fmt.Sprintf("package-%d", i%900), InstalledVersion: "1.2.3-4", FixedVersion: "1.2.3-5+deb12u1",
				Path: "/var/lib/dpkg/status", Layer: "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1",
			}},
		}
	}
	r.Secrets = []domain.Secret{{RuleID: "generic-api-key", Severity: domain.SeverityHigh, File: "/etc/app.conf", StartLine: 1}}
	return r
}

// normalized is r as it reads back: empty finding lists are [] not null.
func normalized(r *domain.Report) *domain.Report {
	c := *r
	if c.Vulnerabilities == nil {
		c.Vulnerabilities = []domain.Vulnerability{}
	}
	if c.Secrets == nil {
		c.Secrets = []domain.Secret{}
	}
	return &c
}
