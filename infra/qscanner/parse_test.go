package qscanner

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/qscanner/qscannertest"
)

// matchedTexts are the fake credentials the fixtures carry in Match (and
// Code) fields. None of them may survive parsing.
var matchedTexts = []string{
	"AKIAZQ3EXAMPLEFAKE42",
	"ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE00",
	"npm_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE",
	"eyJhbGciOiJIUzI1NiJ9.FAKEFAKE.FAKEFAKE",
}

func TestParseDir(t *testing.T) {
	tests := []struct {
		name      string
		fixture   string
		partial   bool
		vulns     domain.Counts
		fixable   domain.Counts
		secrets   domain.Counts
		version   string
		os        string
		platform  string
		digest    domain.Digest
		scanTypes []string
	}{
		{
			name:      "basic output with every Qualys level",
			fixture:   "basic",
			vulns:     domain.Counts{Critical: 2, High: 2, Medium: 1, Low: 1, Informational: 1},
			fixable:   domain.Counts{Critical: 1, High: 1, Medium: 1},
			secrets:   domain.Counts{Critical: 1, High: 1},
			version:   "4.8.0-2",
			os:        "Ubuntu 22.04.3 LTS",
			platform:  "linux/amd64",
			digest:    "sha256:c18fc94bfd14266ba26da4acce6c6be603a653a18ef786467bacf94cdf5d710c",
			scanTypes: []string{"os", "sca", "secret"},
		},
		{
			name:      "odd shapes degrade to unknown, never to low",
			fixture:   "odd",
			vulns:     domain.Counts{High: 2, Medium: 1, Low: 1, Unknown: 5},
			fixable:   domain.Counts{High: 1, Unknown: 1},
			secrets:   domain.Counts{Medium: 1, Unknown: 2},
			version:   "5.0.0-beta",
			os:        "alpine 3.19",
			platform:  "linux/arm64",
			scanTypes: []string{"os", "secret", "7"},
		},
		{
			name:      "clean image",
			fixture:   "empty",
			version:   "4.8.0-2",
			os:        "Debian GNU/Linux 12",
			platform:  "linux/arm64/v8",
			scanTypes: []string{"os", "sca", "secret"},
		},
		{
			name:      "secret scan only needs no vulnerability report",
			fixture:   "secret-only",
			secrets:   domain.Counts{Critical: 1},
			version:   "4.8.0-2",
			scanTypes: []string{"secret"},
		},
		{
			name:      "partial: package scans ran, report missing",
			fixture:   "missing-sarif",
			partial:   true,
			secrets:   domain.Counts{Medium: 1},
			version:   "4.8.0-2",
			os:        "debian 12.5",
			scanTypes: []string{"os", "sca", "secret"},
		},
		{
			name:      "partial: unreadable report is ignored",
			fixture:   "garbage-sarif",
			partial:   true,
			version:   "4.8.0-2",
			os:        "debian 12.5",
			platform:  "linux/arm64/v8",
			scanTypes: []string{"os", "sca", "secret"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parse := ParseDir
			if tc.partial {
				parse = ParsePartialDir
			}
			rep, err := parse(qscannertest.FixtureDir(tc.fixture))
			if err != nil {
				t.Fatalf("parse %s: %v", tc.fixture, err)
			}
			sum := domain.Summarize(rep)
			if sum.Vulnerabilities != tc.vulns {
				t.Errorf("vulnerabilities = %+v, want %+v", sum.Vulnerabilities, tc.vulns)
			}
			if sum.Fixable != tc.fixable {
				t.Errorf("fixable = %+v, want %+v", sum.Fixable, tc.fixable)
			}
			if sum.SecretSeverity != tc.secrets || sum.Secrets != tc.secrets.Total() {
				t.Errorf("secrets = %d %+v, want %+v", sum.Secrets, sum.SecretSeverity, tc.secrets)
			}
			if rep.Partial != tc.partial {
				t.Errorf("partial = %v, want %v", rep.Partial, tc.partial)
			}
			if rep.QScannerVersion != tc.version || rep.OS != tc.os || rep.Platform != tc.platform || rep.Digest != tc.digest {
				t.Errorf("metadata = (%q, %q, %q, %q), want (%q, %q, %q, %q)",
					rep.QScannerVersion, rep.OS, rep.Platform, rep.Digest, tc.version, tc.os, tc.platform, tc.digest)
			}
			if !slices.Equal(rep.ScanTypes, tc.scanTypes) {
				t.Errorf("scan types = %q, want %q", rep.ScanTypes, tc.scanTypes)
			}
			if rep.Vulnerabilities == nil || rep.Secrets == nil {
				t.Error("nil finding lists: they must marshal as [], not null")
			}
			assertNoMatchedText(t, rep)
		})
	}
}

func TestParseDirBasicDetails(t *testing.T) {
	rep, err := ParseDir(qscannertest.FixtureDir("basic"))
	if err != nil {
		t.Fatal(err)
	}
	byQID := map[string]domain.Vulnerability{}
	for _, v := range rep.Vulnerabilities {
		if _, dup := byQID[v.QID]; dup {
			t.Errorf("QID %s listed twice: results for one QID must merge", v.QID)
		}
		byQID[v.QID] = v
	}
	curl := byQID["379132"]
	if curl.Severity != domain.SeverityCritical || curl.QualysSeverity != 5 || curl.CVSS3 != 9.8 ||
		!slices.Equal(curl.CVEs, []string{"CVE-2023-38545"}) || curl.Category != "Ubuntu" ||
		curl.Title != "Curl SOCKS5 Heap-Based Buffer Overflow (CVE-2023-38545)" {
		t.Errorf("curl finding = %+v", curl)
	}
	wantPkg := domain.Package{Name: "curl", InstalledVersion: "7.81.0-1ubuntu1.13", FixedVersion: "7.81.0-1ubuntu1.14",
		Path: "var/lib/dpkg/status", Layer: "sha256:77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2"}
	if len(curl.Packages) != 2 || curl.Packages[0] != wantPkg {
		t.Errorf("curl packages = %+v, want first %+v", curl.Packages, wantPkg)
	}
	glibc := byQID["378931"]
	if names := []string{glibc.Packages[0].Name, glibc.Packages[len(glibc.Packages)-1].Name}; len(glibc.Packages) != 2 || names[0] != "libc6" || names[1] != "libc-bin" {
		t.Errorf("merged glibc packages = %+v, want libc6 and libc-bin", glibc.Packages)
	}
	wantSecret := domain.Secret{RuleID: "aws-access-key-id", Category: "AWS", Title: "AWS Access Key ID",
		Severity: domain.SeverityCritical, File: "app/config/settings.env", StartLine: 12, EndLine: 12,
		Layer: "sha256:95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06"}
	if len(rep.Secrets) != 2 || rep.Secrets[0] != wantSecret {
		t.Errorf("secrets = %+v, want first %+v", rep.Secrets, wantSecret)
	}
}

func TestParseDirOddValues(t *testing.T) {
	rep, err := ParseDir(qscannertest.FixtureDir("odd"))
	if err != nil {
		t.Fatal(err)
	}
	byQID := map[string]domain.Vulnerability{}
	for _, v := range rep.Vulnerabilities {
		byQID[v.QID] = v
	}
	tests := []struct {
		name     string
		qid      string
		severity domain.Severity
		check    func(domain.Vulnerability) bool
	}{
		{"severity as a numeric string", "376001", domain.SeverityHigh, func(v domain.Vulnerability) bool {
			return v.QualysSeverity == 4 && slices.Equal(v.CVEs, []string{"CVE-2021-0001"})
		}},
		{"missing severity", "376002", domain.SeverityUnknown, func(v domain.Vulnerability) bool {
			return v.QualysSeverity == 0 && len(v.Packages) == 1 && v.Packages[0].FixedVersion == "2"
		}},
		{"severity zero, QID from the rule", "376003", domain.SeverityUnknown, nil},
		{"severity out of range", "376004", domain.SeverityUnknown, nil},
		{"customer severity only", "376005", domain.SeverityMedium, nil},
		{"severity as a word", "376006", domain.SeverityHigh, nil},
		{"severity as a float, QID as a float", "376007", domain.SeverityLow, func(v domain.Vulnerability) bool { return v.CVSS3 == 5.3 }},
		{"rule not in the driver", "999999", domain.SeverityUnknown, func(v domain.Vulnerability) bool { return len(v.Packages) == 1 }},
		{"rule without properties", "376008", domain.SeverityUnknown, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := byQID[tc.qid]
			if !ok {
				t.Fatalf("QID %s missing; have %d findings", tc.qid, len(rep.Vulnerabilities))
			}
			if v.Severity != tc.severity {
				t.Errorf("severity = %s, want %s", v.Severity, tc.severity)
			}
			if tc.check != nil && !tc.check(v) {
				t.Errorf("finding = %+v", v)
			}
		})
	}
}

func TestParseDirRejectsUntrustworthyOutput(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		partial bool
		reason  string
	}{
		{"neither file is JSON", "garbage", false, "not valid JSON"},
		{"neither file is JSON, even for a partial report", "garbage", true, "not valid JSON"},
		{"truncated SARIF", "garbage-sarif", false, "truncated JSON"},
		{"package scan ran but no report", "missing-sarif", false, "no *-Report.sarif.json"},
		{"SARIF run without results", "no-results", false, `no "results"`},
		{"SARIF without runs", "no-runs", false, `no "runs"`},
		{"no ScanResult", "missing-scanresult", false, "no *-ScanResult.json"},
		{"ScanResult of the wrong shape", "wrong-shape", false, "unexpected JSON array"},
		{"ScanResult without schema", "no-schema", false, "no SchemaVersion"},
		{"files of two images", "mismatched", false, "different images"},
		{"SecretResults not a list", "secrets-not-a-list", false, "SecretResults"},
		{"empty directory", "empty-dir", false, "no *-ScanResult.json"},
		{"no such directory", "does-not-exist", false, "read output dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parse := ParseDir
			if tc.partial {
				parse = ParsePartialDir
			}
			rep, err := parse(qscannertest.FixtureDir(tc.dir))
			if err == nil {
				t.Fatalf("parse %s: no error, report %+v", tc.dir, domain.Summarize(rep))
			}
			if rep != nil {
				t.Errorf("report returned with the error: %+v", rep)
			}
			var f *domain.Failure
			if !errors.As(err, &f) {
				t.Fatalf("error %v is not a *domain.Failure", err)
			}
			if f.Class != domain.FailureUnparseableOutput {
				t.Errorf("class = %s, want %s", f.Class, domain.FailureUnparseableOutput)
			}
			if !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", f.Reason, tc.reason)
			}
		})
	}
}

func TestFailureAnswersBothForms(t *testing.T) {
	_, err := ParseDir(qscannertest.FixtureDir("garbage"))
	var byPointer *domain.Failure
	var byValue domain.Failure
	if !errors.As(err, &byPointer) || !errors.As(err, &byValue) {
		t.Fatalf("errors.As: pointer %v, value %v for %v", byPointer != nil, byValue.Class != "", err)
	}
	if *byPointer != byValue || byValue.Class != domain.FailureUnparseableOutput {
		t.Errorf("pointer %+v and value %+v differ", *byPointer, byValue)
	}
	if err.Error() != byValue.Error() {
		t.Errorf("Error() = %q, want the Failure's %q", err.Error(), byValue.Error())
	}
}

// TestMatchedTextIsInTheFixtures keeps assertNoMatchedText honest: the texts
// it looks for must really be in the input.
func TestMatchedTextIsInTheFixtures(t *testing.T) {
	var all []byte
	for _, dir := range []string{"basic", "odd", "secret-only", "missing-sarif"} {
		files, err := filepath.Glob(filepath.Join(qscannertest.FixtureDir(dir), "*-ScanResult.json"))
		if err != nil || len(files) != 1 {
			t.Fatalf("%s: %v %v", dir, files, err)
		}
		b, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	for _, m := range matchedTexts {
		if !bytes.Contains(all, []byte(m)) {
			t.Errorf("no fixture carries %q", m)
		}
	}
}

func assertNoMatchedText(t *testing.T, rep *domain.Report) {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matchedTexts {
		if bytes.Contains(b, []byte(m)) {
			t.Errorf("the report carries a secret's matched text %q", m)
		}
	}
}
