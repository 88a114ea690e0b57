package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"ecrscanner/domain"
)

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in      string
		want    domain.Severity
		wantErr bool
	}{
		{"CRITICAL", domain.SeverityCritical, false},
		{"critical", domain.SeverityCritical, false},
		{"High", domain.SeverityHigh, false},
		{" medium\n", domain.SeverityMedium, false},
		{"LOW", domain.SeverityLow, false},
		{"INFORMATIONAL", domain.SeverityInformational, false},
		{"INFO", domain.SeverityInformational, false},
		{"info", domain.SeverityInformational, false},
		{"UNKNOWN", domain.SeverityUnknown, false},
		{"", domain.SeverityUnknown, true},
		{"SEVERE", domain.SeverityUnknown, true},
		{"5", domain.SeverityUnknown, true},
		{"HIGHEST", domain.SeverityUnknown, true},
		{"CRIT", domain.SeverityUnknown, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := domain.ParseSeverity(tc.in)
			if got != tc.want {
				t.Errorf("ParseSeverity(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if tc.wantErr != (err != nil) {
				t.Fatalf("ParseSeverity(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestSeverityFromQualys(t *testing.T) {
	tests := []struct {
		level int
		want  domain.Severity
	}{
		{5, domain.SeverityCritical},
		{4, domain.SeverityHigh},
		{3, domain.SeverityMedium},
		{2, domain.SeverityLow},
		{1, domain.SeverityInformational},
		{0, domain.SeverityUnknown},
		{6, domain.SeverityUnknown},
		{-1, domain.SeverityUnknown},
		{1 << 30, domain.SeverityUnknown},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.level), func(t *testing.T) {
			if got := domain.SeverityFromQualys(tc.level); got != tc.want {
				t.Errorf("SeverityFromQualys(%d) = %v, want %v", tc.level, got, tc.want)
			}
		})
	}
}

func TestSeverityOrder(t *testing.T) {
	for i := 1; i < len(domain.Severities); i++ {
		if domain.Severities[i-1] <= domain.Severities[i] {
			t.Errorf("Severities[%d]=%v is not above Severities[%d]=%v", i-1, domain.Severities[i-1], i, domain.Severities[i])
		}
	}
	if len(domain.Severities) != 6 {
		t.Errorf("Severities has %d entries, want all 6", len(domain.Severities))
	}
	if got := domain.Severity(-3).String(); got != "UNKNOWN" {
		t.Errorf("String of an out-of-range severity = %q, want UNKNOWN", got)
	}
	if got := domain.Severity(42).String(); got != "UNKNOWN" {
		t.Errorf("String of an out-of-range severity = %q, want UNKNOWN", got)
	}
}

func TestSeverityTextRoundTrip(t *testing.T) {
	for _, s := range domain.Severities {
		t.Run(s.String(), func(t *testing.T) {
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if want := `"` + s.String() + `"`; string(b) != want {
				t.Errorf("json = %s, want %s", b, want)
			}
			got := domain.Severity(-1)
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got != s {
				t.Errorf("round trip gave %v, want %v", got, s)
			}
		})
	}
}

func TestSeverityUnmarshalRejectsUnknownWords(t *testing.T) {
	var v domain.Vulnerability
	err := json.Unmarshal([]byte(`{"qid":"1","severity":"SEVERE"}`), &v)
	if err == nil {
		t.Fatalf("unmarshal accepted severity SEVERE: %+v", v)
	}
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("error %v does not wrap ErrInvalid", err)
	}
	// A missing severity stays unknown rather than becoming a low one.
	if err := json.Unmarshal([]byte(`{"qid":"1"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Severity != domain.SeverityUnknown {
		t.Errorf("missing severity decoded as %v, want UNKNOWN", v.Severity)
	}
}

func TestCounts(t *testing.T) {
	var c domain.Counts
	adds := map[domain.Severity]int{
		domain.SeverityCritical:      1,
		domain.SeverityHigh:          2,
		domain.SeverityMedium:        3,
		domain.SeverityLow:           4,
		domain.SeverityInformational: 5,
		domain.SeverityUnknown:       6,
	}
	for s, n := range adds {
		for range n {
			c.Add(s)
		}
	}
	c.Add(domain.Severity(99)) // out of range counts as unknown
	want := domain.Counts{Critical: 1, High: 2, Medium: 3, Low: 4, Informational: 5, Unknown: 7}
	if c != want {
		t.Fatalf("Counts = %+v, want %+v", c, want)
	}
	for s, n := range adds {
		if s == domain.SeverityUnknown {
			n++
		}
		if got := c.Of(s); got != n {
			t.Errorf("Of(%v) = %d, want %d", s, got, n)
		}
	}
	if got := c.Total(); got != 22 {
		t.Errorf("Total() = %d, want 22", got)
	}

	atLeast := []struct {
		min  domain.Severity
		want int
	}{
		{domain.SeverityCritical, 1},
		{domain.SeverityHigh, 3},
		{domain.SeverityMedium, 6},
		{domain.SeverityLow, 10},
		{domain.SeverityInformational, 15},
		// Unknown findings are not ranked, so no threshold includes them.
		{domain.SeverityUnknown, 15},
	}
	for _, tc := range atLeast {
		t.Run("AtLeast "+tc.min.String(), func(t *testing.T) {
			if got := c.AtLeast(tc.min); got != tc.want {
				t.Errorf("AtLeast(%v) = %d, want %d", tc.min, got, tc.want)
			}
		})
	}
}

func vuln(qid string, sev domain.Severity, cvss float64, fixed bool) domain.Vulnerability {
	p := domain.Package{Name: "openssl", InstalledVersion: "3.0.1"}
	if fixed {
		p.FixedVersion = "3.0.2"
	}
	return domain.Vulnerability{QID: qid, Title: "title " + qid, Severity: sev, CVSS3: cvss, Packages: []domain.Package{p}}
}

func qids(vs []domain.Vulnerability) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.QID
	}
	return out
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		report  domain.Report
		want    domain.Summary
		wantTop []string
	}{
		{
			name:   "empty report",
			report: domain.Report{},
			want:   domain.Summary{},
		},
		{
			name: "counts, fixable and secrets",
			report: domain.Report{
				Partial: true,
				Vulnerabilities: []domain.Vulnerability{
					vuln("1", domain.SeverityCritical, 9.8, true),
					vuln("2", domain.SeverityCritical, 9.1, false),
					vuln("3", domain.SeverityHigh, 7.5, true),
					vuln("4", domain.SeverityLow, 2, true),
					vuln("5", domain.SeverityUnknown, 0, false),
				},
				Secrets: []domain.Secret{
					{RuleID: "aws-key", Severity: domain.SeverityCritical, File: "/app/.env"},
					{RuleID: "generic", File: "/etc/x"},
				},
			},
			want: domain.Summary{
				Vulnerabilities: domain.Counts{Critical: 2, High: 1, Low: 1, Unknown: 1},
				Fixable:         domain.Counts{Critical: 1, High: 1, Low: 1},
				Secrets:         2,
				SecretSeverity:  domain.Counts{Critical: 1, Unknown: 1},
				Partial:         true,
			},
			wantTop: []string{"1", "2", "3", "4", "5"},
		},
		{
			name: "fixable when any package has a fix",
			report: domain.Report{Vulnerabilities: []domain.Vulnerability{{
				QID: "9", Severity: domain.SeverityMedium,
				Packages: []domain.Package{{Name: "a"}, {Name: "b", FixedVersion: "2"}},
			}}},
			want: domain.Summary{
				Vulnerabilities: domain.Counts{Medium: 1},
				Fixable:         domain.Counts{Medium: 1},
			},
			wantTop: []string{"9"},
		},
		{
			name: "most severe first, then CVSS, then QID",
			report: domain.Report{Vulnerabilities: []domain.Vulnerability{
				vuln("low", domain.SeverityLow, 10, false),
				vuln("b", domain.SeverityHigh, 7, false),
				vuln("a", domain.SeverityHigh, 7, false),
				vuln("c", domain.SeverityHigh, 8.1, false),
				vuln("crit", domain.SeverityCritical, 1, false),
			}},
			want: domain.Summary{
				Vulnerabilities: domain.Counts{Critical: 1, High: 3, Low: 1},
			},
			wantTop: []string{"crit", "c", "a", "b", "low"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := domain.Summarize(&tc.report)
			if gotTop := qids(got.Top); !reflect.DeepEqual(gotTop, tc.wantTop) && (len(gotTop) > 0 || len(tc.wantTop) > 0) {
				t.Errorf("Top = %v, want %v", gotTop, tc.wantTop)
			}
			got.Top = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSummarizeKeepsTheWorstFew(t *testing.T) {
	var r domain.Report
	// Fifty findings, in an order that is not already sorted; the ten worst
	// are the criticals C00..C09 (CVSS descending with the index).
	for i := range 50 {
		sev := domain.SeverityLow
		if i%5 == 0 {
			sev = domain.SeverityCritical
		}
		r.Vulnerabilities = append(r.Vulnerabilities, vuln(fmt.Sprintf("Q%02d", i), sev, float64(i%7), false))
	}
	sum := domain.Summarize(&r)
	if len(sum.Top) != domain.TopFindings {
		t.Fatalf("len(Top) = %d, want %d", len(sum.Top), domain.TopFindings)
	}
	for i := 1; i < len(sum.Top); i++ {
		a, b := sum.Top[i-1], sum.Top[i]
		if a.Severity < b.Severity || a.Severity == b.Severity && (a.CVSS3 < b.CVSS3 || a.CVSS3 == b.CVSS3 && a.QID > b.QID) {
			t.Errorf("Top[%d]=%s(%v %.1f) sorts before Top[%d]=%s(%v %.1f)", i-1, a.QID, a.Severity, a.CVSS3, i, b.QID, b.Severity, b.CVSS3)
		}
	}
	for _, v := range sum.Top {
		if v.Severity != domain.SeverityCritical {
			t.Errorf("Top holds %s of severity %v while criticals were left out", v.QID, v.Severity)
		}
	}
	if got := sum.Vulnerabilities.Total(); got != 50 {
		t.Errorf("counted %d findings, want 50", got)
	}
	if r.Vulnerabilities[0].QID != "Q00" || r.Vulnerabilities[1].QID != "Q01" {
		t.Error("Summarize reordered the report's findings")
	}
}

func TestSummarizeCompactsTop(t *testing.T) {
	long := strings.Repeat("é", 1000) // multi-byte, so a byte cut could split a rune
	v := domain.Vulnerability{
		QID:      strings.Repeat("9", 500),
		Title:    long,
		Severity: domain.SeverityCritical,
		Category: "category text that alerts do not need",
		CVEs:     []string{"CVE-1", "CVE-2", "CVE-3", "CVE-4", "CVE-5", "CVE-6", strings.Repeat("C", 500)},
		Packages: []domain.Package{
			{Name: long, InstalledVersion: long, FixedVersion: long, Path: "/usr/lib/x", Layer: "sha256:aa"},
			{Name: "b"}, {Name: "c"}, {Name: "d"},
		},
	}
	v.CVEs[4] = strings.Repeat("D", 500)
	r := domain.Report{Vulnerabilities: []domain.Vulnerability{v}}
	sum := domain.Summarize(&r)
	if len(sum.Top) != 1 {
		t.Fatalf("len(Top) = %d, want 1", len(sum.Top))
	}
	top := sum.Top[0]
	checks := []struct {
		name  string
		value string
		max   int
	}{
		{"QID", top.QID, 32},
		{"Title", top.Title, 200},
		{"Package.Name", top.Packages[0].Name, 100},
		{"Package.InstalledVersion", top.Packages[0].InstalledVersion, 64},
		{"Package.FixedVersion", top.Packages[0].FixedVersion, 64},
	}
	for _, cve := range top.CVEs {
		checks = append(checks, struct {
			name  string
			value string
			max   int
		}{"CVE", cve, 32})
	}
	for _, c := range checks {
		if len(c.value) > c.max {
			t.Errorf("%s is %d bytes, want at most %d", c.name, len(c.value), c.max)
		}
		if len(c.value) == 0 {
			t.Errorf("%s was dropped, want it clipped", c.name)
		}
		if !utf8.ValidString(c.value) {
			t.Errorf("%s was cut inside a UTF-8 sequence", c.name)
		}
	}
	if len(top.CVEs) != 5 {
		t.Errorf("kept %d CVEs, want 5", len(top.CVEs))
	}
	if len(top.Packages) != 3 {
		t.Errorf("kept %d packages, want 3", len(top.Packages))
	}
	if top.Category != "" || top.Packages[0].Path != "" || top.Packages[0].Layer != "" {
		t.Errorf("compact kept fields alerts do not need: %+v", top)
	}
	if !top.Fixable() {
		t.Error("the compacted finding lost its fixed version")
	}

	// The summary travels on its own: changing it must not change the report.
	sum.Top[0].CVEs[0] = "changed"
	sum.Top[0].Packages[0].Name = "changed"
	_ = append(sum.Top[0].CVEs, "appended")
	if r.Vulnerabilities[0].CVEs[0] != "CVE-1" || r.Vulnerabilities[0].CVEs[5] != "CVE-6" || r.Vulnerabilities[0].Packages[0].Name != long {
		t.Error("the summary shares memory with the report")
	}
}

// A summary rides on the scan record (400 KB) and on bus events (256 KB), so
// its size must not grow with the report.
func TestSummaryJSONStaysSmall(t *testing.T) {
	const findings = 20_000
	r := domain.Report{Digest: testDigest}
	for i := range findings {
		r.Vulnerabilities = append(r.Vulnerabilities, domain.Vulnerability{
			QID:            fmt.Sprint(100000 + i),
			Title:          fmt.Sprintf("EulerOS Security Update for openssl and its friends (EulerOS-SA-2024-%04d)", i),
			Severity:       domain.SeverityFromQualys(1 + i%5),
			QualysSeverity: 1 + i%5,
			CVEs:           []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004", "CVE-2024-0005", "CVE-2024-0006", "CVE-2024-0007"},
			CVSS3:          float64(i%100) / 10,
			Category:       "Local",
			Packages: []domain.Package{
				{Name: "openssl-libs", InstalledVersion: "1:3.0.7-24.el9", FixedVersion: "1:3.0.7-27.el9", Path: "/var/lib/rpm", Layer: "sha256:" + strings.Repeat("a", 64)},
				{Name: "openssl", InstalledVersion: "1:3.0.7-24.el9", FixedVersion: "1:3.0.7-27.el9", Path: "/var/lib/rpm", Layer: "sha256:" + strings.Repeat("b", 64)},
				{Name: "openssl-devel", InstalledVersion: "1:3.0.7-24.el9", Path: "/var/lib/rpm"},
				{Name: "compat-openssl11", InstalledVersion: "1:1.1.1k-4.el9"},
			},
		})
	}
	for i := range 500 {
		r.Secrets = append(r.Secrets, domain.Secret{RuleID: "aws-access-key-id", Severity: domain.SeverityCritical, File: fmt.Sprintf("/app/config/%d.env", i)})
	}
	sum := domain.Summarize(&r)
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= 8<<10 {
		t.Errorf("summary JSON is %d bytes, want under 8 KB", len(b))
	}
	if sum.Vulnerabilities.Total() != findings || sum.Secrets != 500 {
		t.Errorf("summary counts %d findings and %d secrets, want %d and 500", sum.Vulnerabilities.Total(), sum.Secrets, findings)
	}
	var back domain.Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, sum) {
		t.Error("summary does not survive a JSON round trip")
	}
}

// Whatever a scanner writes, the compacted summary has a fixed ceiling: even
// with every kept field at its limit and every byte escaped in JSON.
func TestSummaryJSONWorstCase(t *testing.T) {
	hostile := strings.Repeat("<", 10_000) // encoding/json writes each as \u003c
	v := domain.Vulnerability{
		QID: hostile, Title: hostile, Severity: domain.SeverityCritical, CVSS3: 10, QualysSeverity: 5,
		CVEs: []string{hostile, hostile, hostile, hostile, hostile, hostile},
	}
	for range 10 {
		v.Packages = append(v.Packages, domain.Package{Name: hostile, InstalledVersion: hostile, FixedVersion: hostile})
	}
	r := domain.Report{}
	for range 2 * domain.TopFindings {
		r.Vulnerabilities = append(r.Vulnerabilities, v)
	}
	b, err := json.Marshal(domain.Summarize(&r))
	if err != nil {
		t.Fatal(err)
	}
	// The clip limits keep 10 × (32 + 200 + 5×32 + 3×(100+64+64)) = 10,760
	// bytes of text; JSON may write each byte as six, plus the field names.
	const ceiling = 70 << 10
	if len(b) > ceiling {
		t.Errorf("worst-case summary JSON is %d bytes, want at most %d", len(b), ceiling)
	}
	t.Logf("worst-case summary JSON: %d bytes", len(b))
}
