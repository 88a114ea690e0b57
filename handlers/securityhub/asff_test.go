package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

func testImage(t *testing.T) image {
	return image{
		product: testProductOf(t), account: testkit.Account, region: testkit.Region, repository: "team/app",
		digest: testkit.Digest, tags: []string{"v1"}, platform: "linux/arm64/v8", qscannerVersion: "4.8.0",
		scanID: testkit.ScanID, observedAt: testkit.ScannedAt,
	}
}

// messyReport has what a scanner may produce at the edges: long and non-UTF-8
// text, a QID that is no plain token, a QID listed twice, too many CVEs and
// packages, unknown severities and an empty rule.
func messyReport() *domain.Report {
	long := strings.Repeat("é", 900) // two bytes each, so a byte cut could split one
	var cves []string
	var pkgs []domain.Package
	for i := range 25 {
		cves = append(cves, fmt.Sprintf("CVE-2024-%04d", 1000+i))
		pkgs = append(pkgs, domain.Package{Name: fmt.Sprintf("pkg%d", i), InstalledVersion: "1.0", FixedVersion: map[bool]string{true: "1.1"}[i%2 == 0]})
	}
	return &domain.Report{
		Digest: testkit.Digest,
		Vulnerabilities: []domain.Vulnerability{
			{QID: "100", Title: long + "\xff", Severity: domain.SeverityUnknown, CVEs: cves, Packages: pkgs},
			{QID: "weird qid/with:colons", Title: "odd", Severity: domain.SeverityLow, QualysSeverity: 2},
			{QID: "100", Title: "again", Severity: domain.SeverityHigh, QualysSeverity: 4, CVEs: []string{"CVE-2024-9999"},
				Packages: []domain.Package{{Name: "late", InstalledVersion: "2", FixedVersion: "3"}}},
			{QID: "200", Severity: domain.SeverityMedium, Packages: []domain.Package{{Name: "solo", InstalledVersion: "1"}}},
		},
		Secrets: []domain.Secret{
			{RuleID: "", File: "/" + long, StartLine: 1, Severity: domain.SeverityUnknown},
			{RuleID: "github-pat", Title: "GitHub token", File: "/app/config.yml", StartLine: 9, EndLine: 11, Severity: domain.SeverityCritical, Layer: "sha256:cc"},
			{RuleID: "github-pat", Title: "GitHub token", File: "/app/config.yml", StartLine: 9, EndLine: 11, Severity: domain.SeverityCritical, Layer: "sha256:dd"},
		},
	}
}

func TestMappingStaysWithinASFF(t *testing.T) {
	fs := findingsOf(testImage(t), messyReport())
	if len(fs) != 5 {
		t.Fatalf("%d findings, want 5 (QID 100 merged, one secret repeated in two layers)", len(fs))
	}
	ids := map[string]bool{}
	for _, f := range fs {
		if err := securityhubstore.Validate(f); err != nil {
			t.Errorf("%s: %v", f.ID, err)
		}
		if ids[f.ID] {
			t.Errorf("Id %s appears twice", f.ID)
		}
		ids[f.ID] = true
		if !strings.HasPrefix(f.ID, repositoryPrefix(testkit.Account, testkit.Region, "team/app")) {
			t.Errorf("Id %s is outside the repository's prefix", f.ID)
		}
		for _, s := range []string{f.Title, f.Description, f.Remediation.Recommendation.Text} {
			if !utf8.ValidString(s) {
				t.Errorf("%s: text is not UTF-8: %q", f.ID, s)
			}
		}
	}
	merged := fs[0]
	if merged.Severity != (securityhubstore.Severity{Label: "HIGH", Original: "4"}) {
		t.Errorf("merged QID 100 severity %+v, want the worst of both", merged.Severity)
	}
	if len(merged.Vulnerabilities) != maxCVEs || len(merged.Vulnerabilities[0].VulnerablePackages) != maxPackages {
		t.Errorf("QID 100: %d vulnerabilities of %d packages, want %d of %d", len(merged.Vulnerabilities), len(merged.Vulnerabilities[0].VulnerablePackages), maxCVEs, maxPackages)
	}
	if got := merged.Vulnerabilities[0].FixAvailable; got != securityhubstore.FixPartial {
		t.Errorf("FixAvailable %s, want PARTIAL", got)
	}
	if !strings.HasSuffix(merged.Title, "…") || len(merged.Title) > securityhubstore.MaxTitleLen {
		t.Errorf("long title not cut with an ellipsis: %d bytes", len(merged.Title))
	}
	if weird := fs[1]; !strings.HasSuffix(weird.ID, ":vuln:h"+hashOf("weird qid/with:colons")) || weird.GeneratorID != vulnGenerator+"h"+hashOf("weird qid/with:colons") {
		t.Errorf("a QID that is no plain token must be hashed: %s %s", weird.ID, weird.GeneratorID)
	}
	if noCVE := fs[2]; noCVE.Vulnerabilities[0].ID != "QID-200" || noCVE.Types[0] != typeVuln || noCVE.Vulnerabilities[0].FixAvailable != securityhubstore.FixNo {
		t.Errorf("vulnerability without CVE: %+v types %v", noCVE.Vulnerabilities[0], noCVE.Types)
	}
	if unknown := fs[3]; unknown.GeneratorID != secretGenerator+"unknown" || unknown.Severity != (securityhubstore.Severity{Label: "INFORMATIONAL", Original: "UNKNOWN"}) {
		t.Errorf("secret without rule: generator %s severity %+v", unknown.GeneratorID, unknown.Severity)
	}
}

// TestSecretsCarryNoMatchedText guards the rule that a secret's matched text
// never leaves the scanner: domain.Secret has no field for it, and a secret
// finding is built from these fields only. A new field on domain.Secret
// fails this test until the mapping has been reviewed.
func TestSecretsCarryNoMatchedText(t *testing.T) {
	var names []string
	typ := reflect.TypeOf(domain.Secret{})
	for i := range typ.NumField() {
		names = append(names, typ.Field(i).Name)
	}
	want := []string{"RuleID", "Category", "Title", "Severity", "File", "StartLine", "EndLine", "Layer"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("domain.Secret has fields %v, the mapping was reviewed for %v", names, want)
	}
	s := domain.Secret{RuleID: "aws-secret-access-key", Category: "AWS", Title: "AWS Secret Key", Severity: domain.SeverityCritical, File: "/app/.env", StartLine: 4}
	b, err := json.Marshal(secretFinding(testImage(t), s))
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{`"Match"`, `"Secret":`, "AKIA"} {
		if strings.Contains(string(b), word) {
			t.Errorf("secret finding contains %q:\n%s", word, b)
		}
	}
}

func TestFindingIDs(t *testing.T) {
	s := domain.Secret{RuleID: "r", File: "/f", StartLine: 3}
	tests := []struct {
		name      string
		a, b      string
		wantEqual bool
	}{
		{"same secret, other layer and severity", secretKey(s), secretKey(domain.Secret{RuleID: "r", File: "/f", StartLine: 3, Layer: "x", Severity: domain.SeverityHigh}), true},
		{"same secret, other line", secretKey(s), secretKey(domain.Secret{RuleID: "r", File: "/f", StartLine: 4}), false},
		{"file and rule cannot trade characters", secretKey(domain.Secret{RuleID: "ab", File: "c"}), secretKey(domain.Secret{RuleID: "a", File: "bc"}), false},
		{"plain QID kept", vulnKey("379201"), "379201", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.a == tt.b) != tt.wantEqual {
				t.Errorf("%q vs %q: equal %v, want %v", tt.a, tt.b, tt.a == tt.b, tt.wantEqual)
			}
		})
	}
	app := repositoryPrefix(testkit.Account, testkit.Region, "team/app")
	for _, other := range []string{"team/app-x", "team/app/sub", "team/ap"} {
		if o := repositoryPrefix(testkit.Account, testkit.Region, other); strings.HasPrefix(o, app) || strings.HasPrefix(app, o) {
			t.Errorf("prefixes of team/app and %s overlap: %s %s", other, app, o)
		}
	}
}

func TestArchitecture(t *testing.T) {
	for platform, want := range map[string]string{
		"linux/amd64": "x86_64", "linux/arm64": "arm64", "linux/arm64/v8": "arm64", "linux/386": "i386",
		"linux/arm/v7": "", "linux/s390x": "", "": "",
	} {
		if got := architecture(platform); got != want {
			t.Errorf("architecture(%q) = %q, want %q", platform, got, want)
		}
	}
}
