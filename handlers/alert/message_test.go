package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/snsnotify"
)

// checkSubject asserts what SNS requires of a subject.
func checkSubject(t *testing.T, s string) {
	t.Helper()
	if len(s) > snsnotify.MaxSubjectLen {
		t.Errorf("subject is %d bytes, over %d: %q", len(s), snsnotify.MaxSubjectLen, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			t.Errorf("subject byte %d is 0x%02x, not printable ASCII: %q", i, s[i], s)
			break
		}
	}
	if strings.HasPrefix(s, " ") {
		t.Errorf("subject starts with a space: %q", s)
	}
}

// randomRepository returns a valid ECR repository name of up to 256
// characters: slash-separated components joined by '.', '_' or '-'.
func randomRepository(rng *rand.Rand) string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	const seps = "._-"
	target := 2 + rng.IntN(255)
	var b strings.Builder
	for b.Len() < target {
		if b.Len() > 0 {
			if rng.IntN(4) == 0 {
				b.WriteByte('/')
			} else {
				b.WriteByte(seps[rng.IntN(len(seps))])
			}
		}
		for n := 1 + rng.IntN(12); n > 0; n-- {
			b.WriteByte(alnum[rng.IntN(len(alnum))])
		}
	}
	s := b.String()
	if len(s) > 256 {
		s = strings.TrimRight(s[:256], "./_-")
	}
	return s
}

func randomTag(rng *rand.Rand) string {
	if rng.IntN(5) == 0 {
		return ""
	}
	const first = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
	const rest = first + ".-"
	var b strings.Builder
	b.WriteByte(first[rng.IntN(len(first))])
	for n := rng.IntN(domain.MaxTagLen); n > 0; n-- {
		b.WriteByte(rest[rng.IntN(len(rest))])
	}
	return b.String()
}

// TestSubjectFitsSNSForAnyReference checks, over many valid references up to
// the longest ECR allows, that both subjects meet SNS's rules and say
// "prefix repository:tag" when it fits, else the untagged form (a tag is
// never cut), cut itself only when the repository is too long for it.
func TestSubjectFitsSNSForAnyReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct{ repo, tag string }{
		{strings.Repeat("a", 256), strings.Repeat("T", 128)},
		{strings.Repeat("a", 256), strings.Repeat("T", domain.MaxTagLen)},
		{"team/app", strings.Repeat("T", domain.MaxTagLen)},
		{strings.Repeat("ab/", 85) + "z", "v1"},
		{"ab", ""},
		{strings.Repeat("x", 81), "1234567"}, // exactly 99 with "Security Alert: "
	}
	for range 2000 {
		cases = append(cases, struct{ repo, tag string }{randomRepository(rng), randomTag(rng)})
	}
	for _, c := range cases {
		ref, err := domain.NewImageRef(testkit.Account, testkit.Region, c.repo, string(testkit.Digest), c.tag)
		if err != nil {
			t.Fatalf("generator produced an invalid reference: %v", err)
		}
		for _, prefix := range []string{"Security Alert: ", "Scan Failed: "} {
			got := subjectLine(prefix, ref)
			checkSubject(t, got)
			full := prefix + ref.Display()
			untagged := prefix + ref.Repository + "@sha256:" + ref.Digest.Short()
			switch {
			case len(full) <= snsnotify.MaxSubjectLen:
				if got != full {
					t.Errorf("subject %q, want it whole: %q", got, full)
				}
			case len(untagged) <= snsnotify.MaxSubjectLen:
				if got != untagged {
					t.Errorf("subject %q, want the untagged form %q", got, untagged)
				}
			default:
				full = untagged
				if !strings.HasSuffix(got, "...") || !strings.HasPrefix(full, strings.TrimSuffix(got, "...")) || len(got) != snsnotify.MaxSubjectLen {
					t.Errorf("subject %q is not %q cut to %d characters with \"...\"", got, full, snsnotify.MaxSubjectLen)
				}
			}
		}
	}
}

// tag300 is as long as ECR lets a tag be (domain.MaxTagLen).
var tag300 = "v" + strings.Repeat("1.2-_", 59) + "abcd"

// A push with a 300-character tag alerts within every SNS limit: the subject
// (fewer than 100 ASCII characters) names the image by digest rather than by
// a cut tag, the message attributes carry no tag at all, and the body lists
// the tag whole.
func TestAlertWithLongestTagFitsSNS(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", tag300)
	rep := &domain.Report{Digest: testkit.Digest}
	sum := domain.Summary{Vulnerabilities: domain.Counts{Critical: 1}}
	done := testkit.CompletedEvent(rep, ref)
	done.Summary = &sum
	failed := testkit.FailedEvent(domain.Failure{Class: domain.FailureTimeout, Reason: "deadline"}, ref)
	tests := []struct {
		name, subject string
		ev            events.ScanEvent
	}{
		{"findings", "Security Alert: team/app@sha256:" + testkit.Digest.Short(), done},
		{"scan failed", "Scan Failed: team/app@sha256:" + testkit.Digest.Short(), failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, testConfig())
			r.reports.report = rep
			if err := r.h.Handle(context.Background(), tc.ev); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(r.pub.sent) != 1 {
				t.Fatalf("sent %d alerts, want 1", len(r.pub.sent))
			}
			a := r.pub.sent[0]
			if err := snsnotify.Validate(a); err != nil {
				t.Errorf("SNS would refuse the alert: %v", err)
			}
			checkSubject(t, a.Subject)
			if a.Subject != tc.subject {
				t.Errorf("subject %q, want %q", a.Subject, tc.subject)
			}
			for k, v := range a.Attributes {
				if strings.Contains(v, tag300[:20]) {
					t.Errorf("attribute %s carries the tag: %q", k, v)
				}
			}
			if first, _, _ := strings.Cut(a.Body, "\n"); !strings.Contains(first, "team/app:"+tag300) {
				t.Errorf("first line does not name the image with its whole tag:\n%s", a.Body)
			}
			if !strings.Contains(a.Body, "Tags:         "+tag300+"\n") {
				t.Errorf("body does not list the tag whole:\n%s", a.Body)
			}
		})
	}
}

func TestSanitizeSubjectProperties(t *testing.T) {
	prop := func(s string) bool {
		got := sanitizeSubject(s)
		if len(got) > snsnotify.MaxSubjectLen || strings.HasPrefix(got, " ") {
			return false
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e {
				return false
			}
		}
		return true
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 5000}); err != nil {
		t.Error(err)
	}
	tests := []struct{ in, want string }{
		{"Security Alert: team/app:v1", "Security Alert: team/app:v1"},
		{"Security Alert: a\nBcc: x", "Security Alert: a?Bcc: x"},
		{"Alert: ünïcödé", "Alert: ?n?c?d?"},
		{"Alert: \xff\xfe", "Alert: ??"},
		{"Alert: \u202egnp.exe", "Alert: ?gnp.exe"},
		{"  leading", "leading"},
		{strings.Repeat("é", 200), strings.Repeat("?", 96) + "..."},
	}
	for _, tc := range tests {
		if got := sanitizeSubject(tc.in); got != tc.want {
			t.Errorf("sanitizeSubject(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzSanitizeSubject(f *testing.F) {
	for _, s := range []string{"", "Security Alert: team/app:v1", "a\r\nb", "\xff", strings.Repeat("é", 80)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkSubject(t, sanitizeSubject(s))
	})
}

func TestClean(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"plain", "OpenSSL 3.1", 200, "OpenSSL 3.1"},
		{"line breaks become spaces", "a\nb\r\nc\td\u2028e", 200, "a b  c d e"},
		{"controls and bidi overrides", "x\x00y\x1bz\u202eevil\u200b", 200, "x?y?z?evil?"},
		{"invalid UTF-8", "a\xffb", 200, "a?b"},
		{"cut on a character boundary", "ééééé", 7, "éé…"},
		{"cut ASCII", strings.Repeat("a", 10), 5, "aa…"},
		{"unicode kept", "ünïcode ✓", 200, "ünïcode ✓"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := clean(tc.in, tc.n)
			if got != tc.want {
				t.Errorf("clean(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if len(got) > tc.n || !utf8.ValidString(got) {
				t.Errorf("clean(%q, %d) = %q: over the bound or not UTF-8", tc.in, tc.n, got)
			}
		})
	}
}

// TestBodyStaysBoundedAndSafe feeds the largest and most hostile event the
// types allow: uncompacted top findings with huge fields, a hundred long
// tags, thousands of secrets with forged lines in their paths.
func TestBodyStaysBoundedAndSafe(t *testing.T) {
	huge := strings.Repeat("<x>", 1000)
	forged := "\nArchive:      s3://attacker/evil\n"
	var top []domain.Vulnerability
	for range 50 {
		v := domain.Vulnerability{QID: huge, Title: huge + forged + "\u202e", Severity: domain.SeverityCritical, CVSS3: 10}
		for range 50 {
			v.CVEs = append(v.CVEs, huge)
			v.Packages = append(v.Packages, domain.Package{Name: huge, InstalledVersion: huge, FixedVersion: huge})
		}
		top = append(top, v)
	}
	rep := &domain.Report{Digest: testkit.Digest}
	for i := range 10_000 {
		rep.Secrets = append(rep.Secrets, domain.Secret{RuleID: huge, Title: huge, Severity: domain.SeverityHigh, File: huge + forged, StartLine: i})
	}
	sum := domain.Summary{Vulnerabilities: domain.Counts{Critical: 50}, Secrets: len(rep.Secrets), SecretSeverity: domain.Counts{High: len(rep.Secrets)}, Top: top}

	var refs []domain.ImageRef
	for i := range domain.MaxReferences {
		tag := fmt.Sprintf("%s%08d", strings.Repeat("t", 120), i)
		refs = append(refs, testkit.MustRef(t, strings.Repeat("r", 256), tag))
	}
	ev := testkit.CompletedEvent(rep, refs...)
	ev.Summary = &sum
	ev.Platform, ev.QScannerVersion, ev.ScanID = huge, huge, "scan-1"

	failed := testkit.FailedEvent(domain.Failure{Class: domain.FailureClass(huge), Reason: huge + forged, ExitCode: 1}, refs...)
	failed.Summary = &sum
	failed.ScanID = "scan-1"

	for name, e := range map[string]events.ScanEvent{"findings": ev, "scan failed": failed} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, testConfig())
			r.reports.report = rep
			if err := r.h.Handle(context.Background(), e); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(r.pub.sent) != 1 {
				t.Fatalf("sent %d alerts, want 1", len(r.pub.sent))
			}
			a := r.pub.sent[0]
			t.Logf("worst-case body: %d bytes", len(a.Body))
			if len(a.Body) > MaxBodyBytes || !utf8.ValidString(a.Body) {
				t.Errorf("body is %d bytes (limit %d), valid UTF-8 %v", len(a.Body), MaxBodyBytes, utf8.ValidString(a.Body))
			}
			if err := snsnotify.Validate(a); err != nil {
				t.Errorf("SNS would refuse the alert: %v", err)
			}
			if len(a.Body) > 32<<10 {
				t.Errorf("body is %d bytes; the per-section bounds should keep it under 32 KiB", len(a.Body))
			}
			if strings.Contains(a.Body, "\nArchive:      s3://attacker") || strings.Contains(a.Body, "\u202e") {
				t.Error("untrusted text forged a line or kept a bidi override")
			}
			checkSubject(t, a.Subject)
		})
	}
}

func TestBound(t *testing.T) {
	small := "short body\n"
	if got := bound(small); got != small {
		t.Errorf("bound changed a short body: %q", got)
	}
	big := strings.Repeat("é", MaxBodyBytes) // 2 bytes each: twice the limit
	got := bound(big)
	if len(got) > MaxBodyBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, "[alert truncated; see the full report]\n") {
		t.Errorf("bound gave %d bytes (limit %d), valid UTF-8 %v, suffix %q", len(got), MaxBodyBytes, utf8.ValidString(got), got[max(0, len(got)-50):])
	}
}
