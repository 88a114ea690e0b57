package s3store

import "ecrscanner/domain"

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
