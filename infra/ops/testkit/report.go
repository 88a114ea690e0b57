package testkit

import (
	"fmt"

	"ecrscanner/domain"
)

// Report is the sample scan's report: a critical vulnerability with a fix, a
// high one without, and a secret (which, as in every report, carries no
// matched text). A title holds characters that JSON and HTML escape, so a
// document or finding built from it shows how they are written.
func Report() *domain.Report {
	return &domain.Report{
		Digest:          Digest,
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

// ThresholdReport has findings on both sides of a severity threshold, for
// tests of what a policy keeps: a critical vulnerability fixed in two
// packages, a high one without a fix, a medium one with a fix, and a medium
// and a high secret.
func ThresholdReport() *domain.Report {
	return &domain.Report{
		Digest:          Digest,
		Platform:        "linux/amd64",
		QScannerVersion: "4.8.0",
		Vulnerabilities: []domain.Vulnerability{
			{
				QID: "379201", Title: "OpenSSL Multiple Vulnerabilities (ALPINE-14-2024-0001)", Severity: domain.SeverityCritical,
				CVEs: []string{"CVE-2024-0001", "CVE-2024-0002"}, CVSS3: 9.8,
				Packages: []domain.Package{{Name: "openssl", InstalledVersion: "3.1.0-r0", FixedVersion: "3.1.5-r0"}, {Name: "libssl3", InstalledVersion: "3.1.0-r0", FixedVersion: "3.1.5-r0"}},
			},
			{
				QID: "380112", Title: "BusyBox Use-After-Free", Severity: domain.SeverityHigh,
				CVEs: []string{"CVE-2023-42363"}, CVSS3: 7.5,
				Packages: []domain.Package{{Name: "busybox", InstalledVersion: "1.36.1-r2"}},
			},
			{
				QID: "376543", Title: "curl Cookie Injection", Severity: domain.SeverityMedium, CVSS3: 5.3,
				Packages: []domain.Package{{Name: "curl", InstalledVersion: "8.5.0-r0", FixedVersion: "8.7.1-r0"}},
			},
		},
		Secrets: []domain.Secret{
			{RuleID: "generic-api-key", Title: "Generic API Key", Severity: domain.SeverityMedium, File: "/etc/app/config.yaml", StartLine: 12},
			{RuleID: "aws-access-key-id", Category: "AWS", Title: "AWS Access Key", Severity: domain.SeverityHigh, File: "/app/.env", StartLine: 3, EndLine: 3},
		},
	}
}

// ReportAt is where the report of scan scanID of d is stored, as the scan
// function writes it.
func ReportAt(d domain.Digest, scanID string) domain.ReportLocation {
	return domain.ReportLocation{Bucket: Bucket, Key: "reports/" + d.Hex() + "/" + scanID + ".json.gz"}
}

// LargeReport is a report of n vulnerabilities shaped like real QScanner
// output (a Debian image: many packages, two CVEs each, every severity) and
// one secret, for size limits and benchmarks; 20,000 is the size the design
// plans for.
func LargeReport(n int) *domain.Report {
	r := &domain.Report{Digest: Digest, Platform: "linux/amd64", OS: "debian 12", QScannerVersion: "4.8.0", ScanTypes: []string{"pkg", "secret"}}
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
