package domain

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Suppression is an accepted risk: one vulnerability (a Qualys QID or a
// CVE), one secret rule or one package, in the repositories its globs match
// (and, when it names digests, only in those images), for a reason, owned by
// someone, until it expires. It hides nothing: a suppressed finding is still
// counted and shown, apart, with the reason; it only stops alerting, failing
// a gate and being NEW in Security Hub. An expired rule applies to nothing,
// so its findings come back the next time a handler acts on them.
type Suppression struct {
	ID string `json:"id"`
	// Exactly one of Vulnerability, SecretRule and Package is set.
	Vulnerability string `json:"vulnerability,omitempty"` // a QID ("38913") or a CVE ("CVE-2024-3094")
	SecretRule    string `json:"secretRule,omitempty"`    // QScanner's secret RuleID
	Package       string `json:"package,omitempty"`       // a package name, as the report names it
	// Repositories are path.Match globs over repository names: "*" does not
	// cross "/", so "team-a/*" is team-a's repositories.
	Repositories []string  `json:"repositories"`
	Digests      []Digest  `json:"digests,omitempty"`
	Reason       string    `json:"reason"`
	Owner        string    `json:"owner"`
	CreatedAt    time.Time `json:"createdAt"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

// DefaultMaxSuppression is how far ahead a suppression may expire unless a
// deployment sets another maximum: a risk accepted is a risk reviewed again.
const DefaultMaxSuppression = 90 * 24 * time.Hour

// Bounds on a rule's text, so the rule set (and what alerts and findings
// quote from it) stays small.
const (
	MaxSuppressionReason = 512
	maxSuppressionOwner  = 128
	maxSuppressionScope  = 20
	maxPackageName       = 214
)

var (
	qidRE        = regexp.MustCompile(`^[0-9]{1,10}$`)
	cveRE        = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
	secretRuleRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)
	// globRE is a repository name with glob characters: ECR's name
	// characters plus * ? [ ] (and ! ^ inside a class).
	globRE = regexp.MustCompile(`^[a-z0-9._/*?\[\]!^-]{1,256}$`)
)

// ErrSuppressionRefused is wrapped by every reason Validate refuses a rule.
var ErrSuppressionRefused = fmt.Errorf("%w suppression", ErrInvalid)

// Validate checks a rule about to be stored at now, with maxAge the longest
// allowed life (DefaultMaxSuppression when zero). Every problem is reported,
// each with the reason, wrapping ErrSuppressionRefused.
func (s Suppression) Validate(now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		maxAge = DefaultMaxSuppression
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := s.validateTarget(); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(s.Reason) == "" {
		bad("no reason: say why the risk is accepted (it is shown wherever the finding is)")
	} else if len(s.Reason) > MaxSuppressionReason {
		bad("reason is %d bytes, over %d", len(s.Reason), MaxSuppressionReason)
	}
	if o := strings.TrimSpace(s.Owner); o == "" || len(o) > maxSuppressionOwner {
		bad("owner must be 1-%d characters: who answers for this rule", maxSuppressionOwner)
	}
	switch {
	case s.ExpiresAt.IsZero():
		bad("no expiry: every suppression expires, at most %s ahead", days(maxAge))
	case !s.ExpiresAt.After(now):
		bad("expiry %s is not in the future", s.ExpiresAt.UTC().Format(time.RFC3339))
	case s.ExpiresAt.Sub(now) > maxAge:
		bad("expiry %s is beyond the maximum of %s ahead", s.ExpiresAt.UTC().Format(time.RFC3339), days(maxAge))
	}
	errs = append(errs, s.validateScope()...)
	if len(errs) > 0 {
		return fmt.Errorf("%w refused: %w", ErrSuppressionRefused, errors.Join(errs...))
	}
	return nil
}

func (s Suppression) validateTarget() error {
	set := 0
	for _, v := range []string{s.Vulnerability, s.SecretRule, s.Package} {
		if v != "" {
			set++
		}
	}
	switch {
	case set != 1:
		return errors.New("name exactly one of a vulnerability (QID or CVE), a secret rule or a package")
	case s.Vulnerability != "" && !qidRE.MatchString(s.Vulnerability) && !cveRE.MatchString(s.Vulnerability):
		return fmt.Errorf("vulnerability %q is neither a QID (digits, e.g. 38913) nor a CVE (CVE-2024-3094)", echo(s.Vulnerability))
	case s.SecretRule != "" && !secretRuleRE.MatchString(s.SecretRule):
		return fmt.Errorf("secret rule %q is not a rule ID ([A-Za-z0-9._:/-], at most 128)", echo(s.SecretRule))
	case s.Package != "" && (len(s.Package) > maxPackageName || strings.ContainsAny(s.Package, " \t\n*?")):
		return fmt.Errorf("package %q is not a package name (no spaces or globs, at most %d)", echo(s.Package), maxPackageName)
	}
	return nil
}

func (s Suppression) validateScope() []error {
	var errs []error
	if len(s.Repositories) == 0 {
		errs = append(errs, errors.New("no repository: scope the rule to repositories (globs such as team-a/*)"))
	}
	if len(s.Repositories) > maxSuppressionScope || len(s.Digests) > maxSuppressionScope {
		errs = append(errs, fmt.Errorf("at most %d repositories and %d digests per rule", maxSuppressionScope, maxSuppressionScope))
	}
	for _, g := range s.Repositories {
		if _, err := path.Match(g, ""); err != nil || !globRE.MatchString(g) {
			errs = append(errs, fmt.Errorf("repository glob %q is not a repository name or path.Match pattern", echo(g)))
		} else if overBroad(g) && len(s.Digests) == 0 {
			errs = append(errs, fmt.Errorf("repository glob %q matches every repository: name repositories, or pin the rule to digests", g))
		}
	}
	for _, d := range s.Digests {
		if _, err := ParseDigest(string(d)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// overBroad says a glob has nothing but wildcards and separators ("*",
// "*/*", "**"), so it would match (nearly) every repository.
func overBroad(g string) bool { return strings.Trim(g, "*?/") == "" }

func days(d time.Duration) string { return fmt.Sprintf("%d days", int(d.Hours()/24)) }

// Active says the rule still applies at now.
func (s Suppression) Active(now time.Time) bool { return now.Before(s.ExpiresAt) }

// Covers says the rule's scope takes in repo and digest.
func (s Suppression) Covers(repo string, digest Digest) bool {
	if len(s.Digests) > 0 && !slices.Contains(s.Digests, digest) {
		return false
	}
	for _, g := range s.Repositories {
		if ok, _ := path.Match(g, repo); ok {
			return true
		}
	}
	return false
}

// matchesVulnerability: by QID or one of its CVEs; by package only when
// every package the finding lists is that package (a QID that also hits
// another package is not accepted by a rule about this one).
func (s Suppression) matchesVulnerability(v Vulnerability) bool {
	switch {
	case s.Vulnerability != "":
		return s.Vulnerability == v.QID || slices.ContainsFunc(v.CVEs, func(c string) bool { return strings.EqualFold(c, s.Vulnerability) })
	case s.Package != "":
		return len(v.Packages) > 0 && !slices.ContainsFunc(v.Packages, func(p Package) bool { return p.Name != s.Package })
	}
	return false
}

// Target names what the rule suppresses, e.g. "CVE-2024-3094" or
// "secret rule aws-access-key".
func (s Suppression) Target() string {
	switch {
	case s.SecretRule != "":
		return "secret rule " + s.SecretRule
	case s.Package != "":
		return "package " + s.Package
	}
	return s.Vulnerability
}

// SuppressionSource reads the rule set as it stands, with the version
// (an ETag) a writer would write against. Safe for concurrent use.
type SuppressionSource interface {
	Load(ctx context.Context) (Suppressions, string, error)
}

// Suppressions is a rule set as read at one moment. The zero value
// suppresses nothing.
type Suppressions struct {
	Rules []Suppression `json:"rules"`
}

// Scoped returns the rules active at now whose scope takes in repo and
// digest: what a handler acting for that image applies.
func (ss Suppressions) Scoped(repo string, digest Digest, now time.Time) Suppressions {
	var out Suppressions
	for _, r := range ss.Rules {
		if r.Active(now) && r.Covers(repo, digest) {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

// Lapsed is the rules covering repo and digest that expired after since
// and by now: what suppressed findings when an earlier scan was judged and
// no longer does. Their findings come back (Sifter.WithLapsed), and a
// rescan alerts on them as on new ones.
func (ss Suppressions) Lapsed(repo string, digest Digest, since, now time.Time) Suppressions {
	var out Suppressions
	for _, r := range ss.Rules {
		if r.ExpiresAt.After(since) && !r.Active(now) && r.Covers(repo, digest) {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

// Vulnerability returns the first rule of a Scoped set that suppresses v.
func (ss Suppressions) Vulnerability(v Vulnerability) (Suppression, bool) {
	for _, r := range ss.Rules {
		if r.matchesVulnerability(v) {
			return r, true
		}
	}
	return Suppression{}, false
}

// Secret returns the first rule of a Scoped set that suppresses sec.
func (ss Suppressions) Secret(sec Secret) (Suppression, bool) {
	for _, r := range ss.Rules {
		if r.SecretRule != "" && r.SecretRule == sec.RuleID {
			return r, true
		}
	}
	return Suppression{}, false
}

// Expired lists the rules that no longer apply at now: their findings are
// back, and the rules are for the owner to renew or remove.
func (ss Suppressions) Expired(now time.Time) []Suppression {
	var out []Suppression
	for _, r := range ss.Rules {
		if !r.Active(now) {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the rule with the given ID.
func (ss Suppressions) Find(id string) (Suppression, bool) {
	i := slices.IndexFunc(ss.Rules, func(r Suppression) bool { return r.ID == id })
	if i < 0 {
		return Suppression{}, false
	}
	return ss.Rules[i], true
}

// SuppressedFinding is one finding a rule suppressed: what alerts and gates
// show apart, with the rule's reason.
type SuppressedFinding struct {
	Kind     string   `json:"kind"` // "vulnerability" or "secret"
	ID       string   `json:"id"`   // the QID, or the secret's rule ID
	Severity Severity `json:"severity"`
	Location string   `json:"location,omitempty"` // a secret's file:line
	RuleID   string   `json:"ruleId"`
	Reason   string   `json:"reason"`
	Expires  string   `json:"expires"`
}

// Sifted is a report split by a Scoped rule set: the summary of what is
// not suppressed (what policies and gates judge), and what is, counted by
// severity and listed (at most maxListed entries; Count says how many).
type Sifted struct {
	Summary    Summary             `json:"summary"`
	Suppressed Counts              `json:"suppressed"`
	Listed     []SuppressedFinding `json:"listed,omitempty"`
	// Returned counts the unsuppressed findings that a Lapsed rule
	// suppressed (Sifter.WithLapsed): they are in Summary too, and are back
	// since the earlier scan. ReturnedListed names at most maxListed, each
	// with the rule that lapsed.
	Returned       Summary             `json:"returned,omitzero"`
	ReturnedListed []SuppressedFinding `json:"returnedListed,omitempty"`
}

// Count is the number of suppressed findings.
func (s Sifted) Count() int { return s.Suppressed.Total() }

// maxListed bounds Sifted.Listed whatever the report's size.
const maxListed = 20

// Sifter applies a Scoped rule set to a report walked one finding at a time
// (a ReportVisitor), so that a report of any size is sifted in bounded
// memory: it keeps counts, the TopFindings worst unsuppressed
// vulnerabilities and at most maxListed suppressed findings.
type Sifter struct {
	rules  Suppressions
	lapsed Suppressions
	out    Sifted
	worst  Report // bounded: trimmed to TopFindings after each add
}

// NewSifter returns a sifter for rules (already Scoped).
func NewSifter(rules Suppressions) *Sifter { return &Sifter{rules: rules} }

// WithLapsed makes the sifter also count, in Sifted.Returned, the
// unsuppressed findings that lapsed (Suppressions.Lapsed) suppressed.
func (f *Sifter) WithLapsed(lapsed Suppressions) *Sifter {
	f.lapsed = lapsed
	return f
}

// Visitor is the ReportVisitor that feeds the sifter.
func (f *Sifter) Visitor() ReportVisitor {
	return ReportVisitor{
		Head:          func(h ReportHead) error { f.out.Summary.Partial = h.Partial; return nil },
		Vulnerability: f.vulnerability,
		Secret:        f.secret,
	}
}

func (f *Sifter) vulnerability(v Vulnerability) error {
	if r, ok := f.rules.Vulnerability(v); ok {
		f.suppress(SuppressedFinding{Kind: "vulnerability", ID: v.QID, Severity: v.Severity}, r)
		return nil
	}
	f.out.Summary.Vulnerabilities.Add(v.Severity)
	if v.Fixable() {
		f.out.Summary.Fixable.Add(v.Severity)
	}
	if r, ok := f.lapsed.Vulnerability(v); ok {
		f.out.Returned.Vulnerabilities.Add(v.Severity)
		if v.Fixable() {
			f.out.Returned.Fixable.Add(v.Severity)
		}
		f.out.ReturnedListed = listed(f.out.ReturnedListed, SuppressedFinding{Kind: "vulnerability", ID: v.QID, Severity: v.Severity}, r)
	}
	f.worst.Vulnerabilities = append(f.worst.Vulnerabilities, v.compact())
	if len(f.worst.Vulnerabilities) > 4*TopFindings {
		f.worst.Vulnerabilities = Summarize(&f.worst).Top
	}
	return nil
}

func (f *Sifter) secret(s Secret) error {
	if r, ok := f.rules.Secret(s); ok {
		loc := s.File
		if s.StartLine > 0 {
			loc += fmt.Sprintf(":%d", s.StartLine)
		}
		f.suppress(SuppressedFinding{Kind: "secret", ID: s.RuleID, Severity: s.Severity, Location: Truncate(loc, 200, Ellipsis)}, r)
		return nil
	}
	f.out.Summary.Secrets++
	f.out.Summary.SecretSeverity.Add(s.Severity)
	if r, ok := f.lapsed.Secret(s); ok {
		f.out.Returned.Secrets++
		f.out.Returned.SecretSeverity.Add(s.Severity)
		f.out.ReturnedListed = listed(f.out.ReturnedListed, SuppressedFinding{Kind: "secret", ID: s.RuleID, Severity: s.Severity}, r)
	}
	return nil
}

func (f *Sifter) suppress(sf SuppressedFinding, r Suppression) {
	f.out.Suppressed.Add(sf.Severity)
	f.out.Listed = listed(f.out.Listed, sf, r)
}

// listed appends sf, named with rule r, to list while it has fewer than
// maxListed entries.
func listed(list []SuppressedFinding, sf SuppressedFinding, r Suppression) []SuppressedFinding {
	if len(list) >= maxListed {
		return list
	}
	sf.ID = Truncate(sf.ID, 128, Ellipsis)
	sf.RuleID, sf.Reason = r.ID, r.Reason
	sf.Expires = r.ExpiresAt.UTC().Format(time.RFC3339)
	return append(list, sf)
}

// Result is the sifted report once the walk has returned nil.
func (f *Sifter) Result() Sifted {
	out := f.out
	out.Summary.Top = Summarize(&f.worst).Top
	return out
}

// Sift applies a Scoped rule set to a report in memory.
func Sift(r *Report, rules Suppressions) Sifted {
	f := NewSifter(rules)
	_ = r.Walk(f.Visitor()) // the visitor funcs never fail
	return f.Result()
}
