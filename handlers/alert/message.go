package main

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/snsnotify"
)

// Alert kinds: the "kind" message attribute, for subscription filters.
const (
	KindVulnerabilities = "vulnerabilities"
	KindSecrets         = "secrets"
	KindBoth            = "vulnerabilities_and_secrets"
	KindScanFailed      = "scan_failed"
)

// Message attribute names.
const (
	AttrSeverity    = "severity"
	AttrRepository  = "repository"
	AttrKind        = "kind"
	AttrImageDigest = "image_digest"
)

// Bounds on what one alert shows: at most 10 findings with 5 CVEs and 3
// packages each, 10 secrets and 20 tags, every field clipped. A body thus
// stays near 20 KB whatever the event holds; MaxBodyBytes is a backstop, far
// below SNS's 256 KiB.
const (
	MaxBodyBytes    = 64 << 10
	maxTagsShown    = 20
	maxSecretsShown = 10
	// As the summary's compact findings keep.
	maxCVEsShown     = 5
	maxPackagesShown = 3
	maxFieldBytes    = 200
	maxReasonBytes   = 500
	// maxDisplayBytes holds repository:tag whole at ECR's limits: 256 for
	// the repository name, 300 for the tag (domain.MaxTagLen).
	maxDisplayBytes = 256 + 1 + domain.MaxTagLen
)

// view is everything one alert for one repository shows.
type view struct {
	ev   events.ScanEvent
	repo events.Repository
	// ref is the repository's representative reference (its first tag).
	ref  domain.ImageRef
	tags []string
	// verdict and policy are the alert policy's reading of the summary.
	verdict domain.Verdict
	policy  domain.AlertPolicy
	// secrets are the report's secrets, when read; secretsUnavailable says
	// the report could not be read, so only their number is known.
	secrets            []domain.Secret
	secretsUnavailable bool
	resultsBucket      string
	// summary is what the policy judged: the event's, or what is left of it
	// after the suppressions in sifted (nil when none applied to the image).
	summary         domain.Summary
	sifted          *domain.Sifted
	suppressionNote string
	// suppressedNew counts a rescan's new findings that a rule in force
	// suppresses (named in the difference; see suppressedNewFindings).
	suppressedNew domain.Summary
}

func newView(ev events.ScanEvent, repo events.Repository, resultsBucket string) view {
	ref := repo.Ref
	ref.Digest = ev.Digest
	return view{ev: ev, repo: repo, ref: ref, tags: tagsOf(ev, repo), resultsBucket: resultsBucket}
}

// findingsAlert is the alert for a scan result that the policy flagged.
func findingsAlert(v view) snsnotify.Alert {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s found in %s\n", v.verdict.Worst, triggerPhrase(v.verdict, v.policy), clean(v.ref.Display(), maxDisplayBytes))
	if v.ev.EventType == domain.EventImageReferenced {
		fmt.Fprintf(&b, "This digest was scanned at %s; the alert is for its push to %s.\n", v.ev.ScannedAt.UTC().Format(time.RFC3339), v.repo.Name)
	}
	writeChanges(&b, v)
	if v.summary.Partial {
		b.WriteString("Note: the scan was partial; some findings may be missing.\n")
	}
	if v.suppressionNote != "" {
		b.WriteString("Note: " + v.suppressionNote + "\n")
	}
	b.WriteString("\n")
	writeImage(&b, v, "completed")
	b.WriteString("\n")
	writeCounts(&b, v.summary)
	writeTopFindings(&b, v)
	writeSecrets(&b, v)
	writeSuppressed(&b, v)
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-14s%s\n", "Archive:", "s3://"+v.resultsBucket+"/"+s3store.ArchiveKey(v.repo.Name, v.ev.Digest, v.ev.ScannedAt))
	writeLinks(&b, v)
	b.WriteString("\n")
	writePolicy(&b, v.policy)

	kind := KindVulnerabilities
	switch {
	case v.verdict.Vulnerabilities > 0 && v.verdict.Secrets > 0:
		kind = KindBoth
	case v.verdict.Secrets > 0:
		kind = KindSecrets
	}
	return withChannels(v, snsnotify.Alert{
		Subject:    subjectLine("Security Alert: ", v.ref),
		Body:       bound(b.String()),
		Attributes: attributes(v, v.verdict.Worst.String(), kind),
	})
}

// failureAlert is the alert for a scan that failed for good.
func failureAlert(v view) snsnotify.Alert {
	f := domain.Failure{Class: "unknown", Reason: "no failure details recorded"}
	if v.ev.Failure != nil {
		f = *v.ev.Failure
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Scan failed for %s: %s\n\n", clean(v.ref.Display(), maxDisplayBytes), clean(string(f.Class), 64))
	writeImage(&b, v, "failed")
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-14s%s\n", "Failure:", clean(string(f.Class), 64))
	if f.ExitCode != 0 {
		fmt.Fprintf(&b, "%-14s%d\n", "Exit code:", f.ExitCode)
	}
	fmt.Fprintf(&b, "%-14s%s\n", "Reason:", clean(f.Reason, maxReasonBytes))
	fmt.Fprintf(&b, "%-14s%s\n", "What to do:", failureAdvice(f.Class, v.ev.ScanID))
	severity := domain.SeverityUnknown
	if v.ev.Summary != nil {
		b.WriteString("\nPartial results (the scan did not finish; more findings may exist):\n")
		writeCounts(&b, *v.ev.Summary)
		if pv := v.policy.Evaluate(*v.ev.Summary); pv.Alert {
			severity = pv.Worst
		}
	}
	b.WriteString("\n")
	writeLinks(&b, v)
	return withChannels(v, snsnotify.Alert{
		Subject:    subjectLine("Scan Failed: ", v.ref),
		Body:       bound(b.String()),
		Attributes: attributes(v, severity.String(), KindScanFailed),
	})
}

func attributes(v view, severity, kind string) map[string]string {
	return map[string]string{
		AttrSeverity:    severity,
		AttrRepository:  v.repo.Name,
		AttrKind:        kind,
		AttrImageDigest: v.ev.Digest.String(),
	}
}

// triggerPhrase says what made the policy alert, e.g. "2 vulnerabilities at
// or above HIGH and 1 secret".
func triggerPhrase(vd domain.Verdict, p domain.AlertPolicy) string {
	var parts []string
	if vd.Vulnerabilities > 0 {
		noun := "vulnerability"
		if vd.Vulnerabilities != 1 {
			noun = "vulnerabilities"
		}
		if p.FixableOnly {
			noun = "fixable " + noun
		}
		parts = append(parts, fmt.Sprintf("%d %s at or above %s", vd.Vulnerabilities, noun, p.MinSeverity))
	}
	if vd.Secrets > 0 {
		noun := "secret"
		if vd.Secrets != 1 {
			noun = "secrets"
		}
		parts = append(parts, fmt.Sprintf("%d %s", vd.Secrets, noun))
	}
	return strings.Join(parts, " and ")
}

func writeImage(b *strings.Builder, v view, outcome string) {
	fmt.Fprintf(b, "%-14s%s\n", "Image:", v.ref.Name())
	fmt.Fprintf(b, "%-14s%s\n", "Tags:", tagList(v.tags))
	fmt.Fprintf(b, "%-14s%s\n", "Account:", v.ref.Account)
	fmt.Fprintf(b, "%-14s%s\n", "Region:", v.ref.Region)
	when := v.ev.ScannedAt
	if when.IsZero() {
		when = v.ev.Time
	}
	fmt.Fprintf(b, "%-14s%s, %s %s\n", "Scan:", clean(v.ev.ScanID, 64), outcome, when.UTC().Format(time.RFC3339))
	if v.ev.Platform != "" || v.ev.QScannerVersion != "" {
		var parts []string
		if v.ev.Platform != "" {
			parts = append(parts, clean(v.ev.Platform, 64))
		}
		if v.ev.QScannerVersion != "" {
			parts = append(parts, "QScanner "+clean(v.ev.QScannerVersion, 64))
		}
		fmt.Fprintf(b, "%-14s%s\n", "Scanner:", strings.Join(parts, ", "))
	}
}

func tagList(tags []string) string {
	if len(tags) == 0 {
		return "(untagged)"
	}
	shown := tags[:min(len(tags), maxTagsShown)]
	s := strings.Join(shown, ", ")
	if n := len(tags) - len(shown); n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

func writeCounts(b *strings.Builder, s domain.Summary) {
	fmt.Fprintf(b, "  %-16s%7s%9s\n", "Vulnerabilities", "total", "fixable")
	for _, sev := range domain.Severities {
		fmt.Fprintf(b, "  %-16s%7d%9d\n", sev, s.Vulnerabilities.Of(sev), s.Fixable.Of(sev))
	}
	fmt.Fprintf(b, "  %-16s%7d\n", "Secrets", s.Secrets)
}

// writeTopFindings lists the summary's worst vulnerabilities that meet the
// policy: those are what the alert is about.
func writeTopFindings(b *strings.Builder, v view) {
	if v.verdict.Vulnerabilities == 0 {
		return
	}
	threshold := v.policy.MinSeverity
	if threshold == domain.SeverityUnknown {
		threshold = domain.SeverityHigh
	}
	var shown []domain.Vulnerability
	for _, f := range v.summary.Top {
		if len(shown) == domain.TopFindings {
			break
		}
		if f.Severity >= threshold && (!v.policy.FixableOnly || f.Fixable()) && newQID(v, f.QID) {
			shown = append(shown, f)
		}
	}
	b.WriteString("\nWorst vulnerabilities\n")
	for i, f := range shown {
		fmt.Fprintf(b, "  %d. %s  QID %s", i+1, f.Severity, clean(f.QID, 32))
		if f.CVSS3 > 0 {
			fmt.Fprintf(b, "  CVSS %s", strconv.FormatFloat(f.CVSS3, 'f', -1, 64))
		}
		if f.Title != "" {
			fmt.Fprintf(b, "  %s", clean(f.Title, maxFieldBytes))
		}
		b.WriteString("\n")
		if len(f.CVEs) > 0 {
			var cves []string
			for _, c := range f.CVEs[:min(len(f.CVEs), maxCVEsShown)] {
				cves = append(cves, clean(c, 32))
			}
			line := strings.Join(cves, ", ")
			if n := len(f.CVEs) - len(cves); n > 0 {
				line += fmt.Sprintf(" and %d more", n)
			}
			fmt.Fprintf(b, "     CVEs: %s\n", line)
		}
		for _, p := range f.Packages[:min(len(f.Packages), maxPackagesShown)] {
			fixed := clean(p.FixedVersion, 64)
			if fixed == "" {
				fixed = "no fixed version"
			}
			fmt.Fprintf(b, "     %s: %s -> %s\n", clean(p.Name, 100), clean(cmp.Or(p.InstalledVersion, "?"), 64), fixed)
		}
	}
	if n := v.verdict.Vulnerabilities - len(shown); n > 0 {
		fmt.Fprintf(b, "  ... and %d more in the full report.\n", n)
	}
}

// writeSecrets lists secrets by rule, title and location. A Secret has no
// matched text, and none is ever shown.
func writeSecrets(b *strings.Builder, v view) {
	if v.verdict.Secrets == 0 {
		return
	}
	b.WriteString("\nSecrets (rule, title, location; the matched text is never stored or sent)\n")
	if v.secretsUnavailable {
		fmt.Fprintf(b, "  %d found; details could not be read, see the full report.\n", v.verdict.Secrets)
		return
	}
	secrets := slices.Clone(v.secrets)
	slices.SortStableFunc(secrets, secretOrder)
	shown := secrets[:min(len(secrets), maxSecretsShown)]
	for i, s := range shown {
		fmt.Fprintf(b, "  %d. %s  %s", i+1, s.Severity, clean(s.RuleID, 100))
		if s.Title != "" {
			fmt.Fprintf(b, "  %s", clean(s.Title, maxFieldBytes))
		}
		loc := clean(s.File, maxFieldBytes)
		if s.StartLine > 0 {
			loc += ":" + strconv.Itoa(s.StartLine)
		}
		fmt.Fprintf(b, "  %s\n", loc)
	}
	if n := v.verdict.Secrets - len(shown); n > 0 {
		fmt.Fprintf(b, "  ... and %d more in the full report.\n", n)
	}
}

// secretOrder sorts secrets as an alert lists them: most severe first, then
// by file and line.
func secretOrder(a, b domain.Secret) int {
	return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.File, b.File), cmp.Compare(a.StartLine, b.StartLine))
}

func writePolicy(b *strings.Builder, p domain.AlertPolicy) {
	scope, secrets := "", "off"
	if p.FixableOnly {
		scope = " (fixable only)"
	}
	if p.OnSecrets {
		secrets = "on"
	}
	fmt.Fprintf(b, "Alert policy: vulnerabilities at or above %s%s; secrets %s.\n", p.MinSeverity, scope, secrets)
}

func writeLinks(b *strings.Builder, v view) {
	if r := v.ev.Report; r != nil {
		fmt.Fprintf(b, "%-14s%s\n", "Full report:", clean("s3://"+r.Bucket+"/"+r.Key, 1200))
	}
	fmt.Fprintf(b, "%-14s%s\n", "ECR console:", ConsoleURL(v.ref))
}

// ConsoleURL is the image's page in the ECR console.
func ConsoleURL(ref domain.ImageRef) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/ecr/repositories/private/%s/%s/_/image/%s/details?region=%s",
		ref.Region, ref.Account, ref.Repository, ref.Digest, ref.Region)
}

func failureAdvice(c domain.FailureClass, scanID string) string {
	switch c {
	case domain.FailureImageNotFound:
		return "The image could not be loaded; it may have been deleted before the scan."
	case domain.FailureRegistryAuth:
		return "ECR refused the scanner's credentials; check the scan function's role and the repository policy."
	case domain.FailureQualysAuth:
		return "Qualys refused the access token; check the token secret."
	case domain.FailurePolicyDeny:
		return "A QScanner policy denied the image; review the policy result in Qualys."
	case domain.FailurePolicyAudit:
		return "A QScanner policy flagged the image in audit mode; review the policy result in Qualys."
	case domain.FailureTimeout:
		return "QScanner ran past its deadline; a large image may need a longer scan timeout."
	case domain.FailureInvalidParameter:
		return "QScanner rejected its invocation; check the scan function's QScanner settings."
	}
	return "See the scan function's logs for scan_id " + clean(scanID, 64) + "."
}

// subjectLine is prefix and the reference's display form, made safe for SNS
// (see sanitizeSubject). SNS takes a subject of fewer than 100 ASCII
// characters (snsnotify.MaxSubjectLen) while ECR tags run to
// domain.MaxTagLen (300), so a tag that does not fit whole is left out and
// the untagged form, repository@sha256:<12 hex>, names the image instead: a
// tag cut short can read as another tag of the same repository, a digest
// cannot. The body lists every tag whole.
func subjectLine(prefix string, ref domain.ImageRef) string {
	s := prefix + ref.Display()
	if ref.Tag != "" && len(s) > snsnotify.MaxSubjectLen {
		untagged := ref
		untagged.Tag = ""
		s = prefix + untagged.Display()
	}
	return sanitizeSubject(s)
}

// sanitizeSubject makes s a valid SNS subject: every rune that is not
// printable ASCII (control characters, newlines, anything non-ASCII) becomes
// one '?', and a result longer than snsnotify.MaxSubjectLen is cut, ending in
// "...". Repository names and tags are ASCII already; this is the guarantee.
func sanitizeSubject(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	s = strings.TrimLeft(s, " ")
	return domain.Truncate(s, snsnotify.MaxSubjectLen, "...")
}

// clean makes untrusted text (titles, paths, reasons written by a scanner or
// found in an image) safe to print on one line of the body: control and
// format characters (which include bidirectional overrides) and invalid
// UTF-8 become '?', other line or tab breaks a space; the result is cut to at
// most n bytes on a character boundary, marked with "…".
func clean(s string, n int) string {
	// Mapping never lengthens text and shortens it at most threefold, so
	// what lies past 4n bytes cannot be shown: drop it before the work.
	s = domain.Truncate(s, 4*n, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			return ' '
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return '?'
		}
		return r
	}, s)
	return domain.Truncate(s, n, domain.Ellipsis)
}

// bound cuts a body over MaxBodyBytes on a character boundary and says so.
func bound(body string) string {
	return domain.Truncate(body, MaxBodyBytes, "\n[alert truncated; see the full report]\n")
}

// tagsOf lists every tag the digest carries in repo, in first-seen order:
// the targets' tags (for ImageReferenced, only the new one) and those of the
// repository's earlier references.
func tagsOf(ev events.ScanEvent, repo events.Repository) []string {
	var tags []string
	seen := map[string]bool{}
	for _, ref := range append(slices.Clone(ev.References), ev.Targets()...) {
		if ref.Tag == "" || seen[ref.Tag] || !ref.SameLocation(repo.Ref) {
			continue
		}
		seen[ref.Tag] = true
		tags = append(tags, clean(ref.Tag, domain.MaxTagLen))
	}
	return tags
}
