package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var supNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func validRule() Suppression {
	return Suppression{
		ID: "s1", Vulnerability: "CVE-2024-3094", Repositories: []string{"team-a/*"},
		Reason: "xz is never loaded", Owner: "alice", CreatedAt: supNow, ExpiresAt: supNow.Add(30 * 24 * time.Hour),
	}
}

func TestSuppressionValidateRefuses(t *testing.T) {
	digest := Digest("sha256:" + strings.Repeat("a", 64))
	tests := []struct {
		name   string
		change func(*Suppression)
		want   string // "" = accepted
	}{
		{"valid CVE", func(*Suppression) {}, ""},
		{"valid QID", func(s *Suppression) { s.Vulnerability = "38913" }, ""},
		{"valid secret rule", func(s *Suppression) { s.Vulnerability, s.SecretRule = "", "aws-access-key-id" }, ""},
		{"valid package", func(s *Suppression) { s.Vulnerability, s.Package = "", "openssl" }, ""},
		{"bare star pinned to a digest", func(s *Suppression) { s.Repositories, s.Digests = []string{"*"}, []Digest{digest} }, ""},
		{"no reason", func(s *Suppression) { s.Reason = "  " }, "no reason"},
		{"no owner", func(s *Suppression) { s.Owner = "" }, "owner must be"},
		{"no expiry", func(s *Suppression) { s.ExpiresAt = time.Time{} }, "no expiry"},
		{"expiry in the past", func(s *Suppression) { s.ExpiresAt = supNow.Add(-time.Hour) }, "not in the future"},
		{"expiry beyond max", func(s *Suppression) { s.ExpiresAt = supNow.Add(91 * 24 * time.Hour) }, "beyond the maximum of 90 days"},
		{"unknown identifier shape", func(s *Suppression) { s.Vulnerability = "GHSA-xxxx" }, "neither a QID"},
		{"two identifiers", func(s *Suppression) { s.Package = "openssl" }, "exactly one"},
		{"bare star", func(s *Suppression) { s.Repositories = []string{"*"} }, "matches every repository"},
		{"star slash star", func(s *Suppression) { s.Repositories = []string{"*/*"} }, "matches every repository"},
		{"no repositories", func(s *Suppression) { s.Repositories = nil }, "no repository"},
		{"bad glob", func(s *Suppression) { s.Repositories = []string{"team-a/["} }, "not a repository name"},
		{"bad digest", func(s *Suppression) { s.Digests = []Digest{"sha256:nope"} }, "digest"},
		{"package glob", func(s *Suppression) { s.Vulnerability, s.Package = "", "open*" }, "not a package name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validRule()
			tt.change(&s)
			err := s.Validate(supNow, 0)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalid saying %q", err, tt.want)
			}
		})
	}
}

func TestSuppressionMaxIsConfigurable(t *testing.T) {
	s := validRule()
	s.ExpiresAt = supNow.Add(10 * 24 * time.Hour)
	if err := s.Validate(supNow, 7*24*time.Hour); err == nil || !strings.Contains(err.Error(), "maximum of 7 days") {
		t.Fatalf("err = %v, want the 7-day maximum", err)
	}
}

func TestSuppressionScopeGlobs(t *testing.T) {
	d1, d2 := Digest("sha256:"+strings.Repeat("1", 64)), Digest("sha256:"+strings.Repeat("2", 64))
	tests := []struct {
		name    string
		repos   []string
		digests []Digest
		repo    string
		digest  Digest
		want    bool
	}{
		{"glob matches child", []string{"team-a/*"}, nil, "team-a/api", d1, true},
		{"star does not cross slash", []string{"team-a/*"}, nil, "team-a/x/api", d1, false},
		{"other team", []string{"team-a/*"}, nil, "team-b/api", d1, false},
		{"exact name", []string{"sample-app"}, nil, "sample-app", d1, true},
		{"question mark", []string{"app-?"}, nil, "app-1", d1, true},
		{"digest pinned, other digest", []string{"sample-app"}, []Digest{d1}, "sample-app", d2, false},
		{"digest pinned, same digest", []string{"sample-app"}, []Digest{d1}, "sample-app", d1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validRule()
			s.Repositories, s.Digests = tt.repos, tt.digests
			if got := s.Covers(tt.repo, tt.digest); got != tt.want {
				t.Fatalf("Covers(%s) = %v, want %v", tt.repo, got, tt.want)
			}
		})
	}
}

func TestSuppressionExpiry(t *testing.T) {
	s := validRule()
	set := Suppressions{Rules: []Suppression{s}}
	d := Digest("sha256:" + strings.Repeat("1", 64))
	if got := set.Scoped("team-a/api", d, s.ExpiresAt.Add(-time.Second)); len(got.Rules) != 1 {
		t.Fatalf("a second before expiry: %d rules apply, want 1", len(got.Rules))
	}
	if got := set.Scoped("team-a/api", d, s.ExpiresAt); len(got.Rules) != 0 {
		t.Fatalf("at expiry: %d rules apply, want 0 (the finding comes back)", len(got.Rules))
	}
	if exp := set.Expired(s.ExpiresAt); len(exp) != 1 || exp[0].ID != "s1" {
		t.Fatalf("Expired = %+v, want s1", exp)
	}
}

func TestSiftCountsSuppressedApart(t *testing.T) {
	r := &Report{
		Vulnerabilities: []Vulnerability{
			{QID: "1", Severity: SeverityCritical, CVEs: []string{"cve-2024-3094"}, Packages: []Package{{Name: "xz", FixedVersion: "5.6.2"}}},
			{QID: "2", Severity: SeverityHigh, Packages: []Package{{Name: "openssl"}, {Name: "libssl"}}},
			{QID: "3", Severity: SeverityHigh, Packages: []Package{{Name: "openssl"}}},
		},
		Secrets: []Secret{{RuleID: "aws-key", Severity: SeverityHigh, File: "/app/.env", StartLine: 3}, {RuleID: "gh-token", Severity: SeverityCritical, File: "/x"}},
	}
	cve := validRule()
	pkg := validRule()
	pkg.ID, pkg.Vulnerability, pkg.Package = "s2", "", "openssl"
	sec := validRule()
	sec.ID, sec.Vulnerability, sec.SecretRule = "s3", "", "aws-key"
	got := Sift(r, Suppressions{Rules: []Suppression{cve, pkg, sec}})
	if got.Summary.Vulnerabilities.Critical != 0 || got.Summary.Vulnerabilities.High != 1 || got.Summary.Secrets != 1 {
		t.Fatalf("unsuppressed summary = %+v, want QID 2 (also libssl) and gh-token left", got.Summary)
	}
	if got.Suppressed.Critical != 1 || got.Suppressed.High != 2 || got.Count() != 3 {
		t.Fatalf("suppressed = %+v, want 1 critical, 2 high", got.Suppressed)
	}
	if len(got.Listed) != 3 || got.Listed[0].Reason != cve.Reason || got.Listed[2].Location != "/app/.env:3" {
		t.Fatalf("listed = %+v", got.Listed)
	}
	if len(got.Summary.Top) != 1 || got.Summary.Top[0].QID != "2" {
		t.Fatalf("top = %+v, want QID 2", got.Summary.Top)
	}
}

// A rule that expired between an earlier scan and now is Lapsed; the
// findings it suppressed come back, counted in Returned, unless a rule
// still in force suppresses them too.
func TestLapsedRulesBringTheirFindingsBack(t *testing.T) {
	d := Digest("sha256:" + strings.Repeat("1", 64))
	gone := validRule() // CVE-2024-3094, expires supNow+30d
	kept := validRule()
	kept.ID, kept.Vulnerability, kept.ExpiresAt = "s2", "CVE-2024-0001", supNow.Add(60*24*time.Hour)
	both := validRule()
	both.ID, both.Vulnerability, both.ExpiresAt = "s3", "CVE-2024-0002", gone.ExpiresAt
	stillOn := validRule()
	stillOn.ID, stillOn.Vulnerability, stillOn.ExpiresAt = "s4", "CVE-2024-0002", supNow.Add(90*24*time.Hour)
	older := validRule()
	older.ID, older.SecretRule, older.Vulnerability, older.ExpiresAt = "s5", "aws-key", "", supNow.Add(time.Hour)
	set := Suppressions{Rules: []Suppression{gone, kept, both, stillOn, older}}

	previous, now := supNow.Add(2*time.Hour), gone.ExpiresAt.Add(time.Hour)
	lapsed := set.Lapsed("team-a/api", d, previous, now)
	if len(lapsed.Rules) != 2 || lapsed.Rules[0].ID != "s1" || lapsed.Rules[1].ID != "s3" {
		t.Fatalf("Lapsed = %+v, want s1 and s3 (s2 and s4 in force, s5 lapsed before the earlier scan)", lapsed.Rules)
	}
	if got := set.Lapsed("team-b/api", d, previous, now); len(got.Rules) != 0 {
		t.Fatalf("Lapsed out of scope = %+v, want none", got.Rules)
	}

	r := &Report{
		Vulnerabilities: []Vulnerability{
			{QID: "1", Severity: SeverityCritical, CVEs: []string{"CVE-2024-3094"}, Packages: []Package{{Name: "xz", FixedVersion: "5.6.2"}}},
			{QID: "2", Severity: SeverityHigh, CVEs: []string{"CVE-2024-0001"}},
			{QID: "3", Severity: SeverityHigh, CVEs: []string{"CVE-2024-0002"}},
		},
		Secrets: []Secret{{RuleID: "aws-key", Severity: SeverityHigh, File: "/app/.env"}},
	}
	f := NewSifter(set.Scoped("team-a/api", d, now)).WithLapsed(lapsed)
	if err := r.Walk(f.Visitor()); err != nil {
		t.Fatal(err)
	}
	got := f.Result()
	if got.Returned.Vulnerabilities.Critical != 1 || got.Returned.Vulnerabilities.Total() != 1 || got.Returned.Fixable.Critical != 1 || got.Returned.Secrets != 0 {
		t.Fatalf("returned = %+v, want QID 1 only (QID 3 is still suppressed by s4; the secret's rule lapsed before the earlier scan)", got.Returned)
	}
	if len(got.ReturnedListed) != 1 || got.ReturnedListed[0].ID != "1" || got.ReturnedListed[0].RuleID != "s1" {
		t.Fatalf("returned listed = %+v, want QID 1 named with rule s1", got.ReturnedListed)
	}
	if got.Summary.Vulnerabilities.Critical != 1 || got.Suppressed.High != 2 {
		t.Fatalf("summary %+v suppressed %+v: a returned finding counts as unsuppressed", got.Summary.Vulnerabilities, got.Suppressed)
	}
}
