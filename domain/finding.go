package domain

import (
	"fmt"
	"sort"
	"strings"
)

// Severity is a closed, ordered scale. The zero value is SeverityUnknown, so a
// missing or unreadable severity never silently becomes a low one.
type Severity int

const (
	SeverityUnknown Severity = iota
	SeverityInformational
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"UNKNOWN", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// Severities lists the known severities from the most to the least severe.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInformational, SeverityUnknown}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "UNKNOWN"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity word, case-insensitively. "INFO" is accepted
// for INFORMATIONAL.
func ParseSeverity(s string) (Severity, error) {
	w := strings.ToUpper(strings.TrimSpace(s))
	if w == "INFO" {
		return SeverityInformational, nil
	}
	for i, n := range severityNames {
		if n == w {
			return Severity(i), nil
		}
	}
	return SeverityUnknown, fmt.Errorf("%w severity %q", ErrInvalid, echo(s))
}

// SeverityFromQualys maps Qualys levels 1–5 (minimal, medium, serious,
// critical, urgent) onto the scale: 5 → CRITICAL … 1 → INFORMATIONAL.
// Anything else is UNKNOWN.
func SeverityFromQualys(level int) Severity {
	if level < 1 || level > 5 {
		return SeverityUnknown
	}
	return Severity(level)
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Package is one vulnerable piece of software inside an image.
type Package struct {
	Name             string `json:"name"`
	InstalledVersion string `json:"installedVersion,omitempty"`
	FixedVersion     string `json:"fixedVersion,omitempty"`
	Path             string `json:"path,omitempty"`
	Layer            string `json:"layer,omitempty"`
}

// Vulnerability is one Qualys detection (QID) in an image.
type Vulnerability struct {
	QID            string    `json:"qid"`
	Title          string    `json:"title,omitempty"`
	Severity       Severity  `json:"severity"`
	QualysSeverity int       `json:"qualysSeverity,omitempty"`
	CVEs           []string  `json:"cves,omitempty"`
	CVSS3          float64   `json:"cvss3,omitempty"`
	Category       string    `json:"category,omitempty"`
	Packages       []Package `json:"packages,omitempty"`
}

// Fixable reports whether any affected package has a fixed version.
func (v Vulnerability) Fixable() bool {
	for _, p := range v.Packages {
		if p.FixedVersion != "" {
			return true
		}
	}
	return false
}

// Secret is a hard-coded credential found in an image. It deliberately has no
// field for the matched text: parsers drop it, so it cannot be stored, logged
// or sent by accident.
type Secret struct {
	RuleID    string   `json:"ruleId"`
	Category  string   `json:"category,omitempty"`
	Title     string   `json:"title,omitempty"`
	Severity  Severity `json:"severity"`
	File      string   `json:"file"`
	StartLine int      `json:"startLine,omitempty"`
	EndLine   int      `json:"endLine,omitempty"`
	Layer     string   `json:"layer,omitempty"`
}

// Report is the normalized result of one QScanner run: what goes to S3 in full.
type Report struct {
	Digest          Digest          `json:"digest"`
	Platform        string          `json:"platform,omitempty"`
	OS              string          `json:"os,omitempty"`
	QScannerVersion string          `json:"qscannerVersion,omitempty"`
	ScanTypes       []string        `json:"scanTypes,omitempty"`
	Partial         bool            `json:"partial,omitempty"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	Secrets         []Secret        `json:"secrets"`
}

// Counts holds a number per severity.
type Counts struct {
	Critical      int `json:"critical"`
	High          int `json:"high"`
	Medium        int `json:"medium"`
	Low           int `json:"low"`
	Informational int `json:"informational"`
	Unknown       int `json:"unknown"`
}

// Add counts one finding of severity s.
func (c *Counts) Add(s Severity) {
	switch s {
	case SeverityCritical:
		c.Critical++
	case SeverityHigh:
		c.High++
	case SeverityMedium:
		c.Medium++
	case SeverityLow:
		c.Low++
	case SeverityInformational:
		c.Informational++
	default:
		c.Unknown++
	}
}

// Of returns the count for severity s.
func (c Counts) Of(s Severity) int {
	switch s {
	case SeverityCritical:
		return c.Critical
	case SeverityHigh:
		return c.High
	case SeverityMedium:
		return c.Medium
	case SeverityLow:
		return c.Low
	case SeverityInformational:
		return c.Informational
	default:
		return c.Unknown
	}
}

// Plus is c and o counted together.
func (c Counts) Plus(o Counts) Counts {
	return Counts{Critical: c.Critical + o.Critical, High: c.High + o.High, Medium: c.Medium + o.Medium,
		Low: c.Low + o.Low, Informational: c.Informational + o.Informational, Unknown: c.Unknown + o.Unknown}
}

// Minus is c less o, never below zero.
func (c Counts) Minus(o Counts) Counts {
	sub := func(a, b int) int { return max(0, a-b) }
	return Counts{Critical: sub(c.Critical, o.Critical), High: sub(c.High, o.High), Medium: sub(c.Medium, o.Medium),
		Low: sub(c.Low, o.Low), Informational: sub(c.Informational, o.Informational), Unknown: sub(c.Unknown, o.Unknown)}
}

// Total is the sum over all severities.
func (c Counts) Total() int {
	return c.Critical + c.High + c.Medium + c.Low + c.Informational + c.Unknown
}

// AtLeast is the number of findings at or above severity min.
func (c Counts) AtLeast(min Severity) int {
	n := 0
	for _, s := range Severities {
		if s >= min && s != SeverityUnknown {
			n += c.Of(s)
		}
	}
	return n
}

// TopFindings bounds how many of the worst vulnerabilities a Summary keeps, so
// a record stays small whatever the report's size.
const TopFindings = 10

// Summary is the small digest of a Report that travels on the scan record and
// on bus events: counts, plus the few worst findings an alert shows.
type Summary struct {
	Vulnerabilities Counts          `json:"vulnerabilities"`
	Fixable         Counts          `json:"fixable"`
	Secrets         int             `json:"secrets"`
	SecretSeverity  Counts          `json:"secretSeverity"`
	Top             []Vulnerability `json:"top,omitempty"`
	Partial         bool            `json:"partial,omitempty"`
}

// Summarize counts a report and keeps its worst findings, most severe first
// (ties broken by CVSS, then QID, so the choice is stable).
func Summarize(r *Report) Summary {
	var s Summary
	for _, v := range r.Vulnerabilities {
		s.Vulnerabilities.Add(v.Severity)
		if v.Fixable() {
			s.Fixable.Add(v.Severity)
		}
	}
	for _, sec := range r.Secrets {
		s.Secrets++
		s.SecretSeverity.Add(sec.Severity)
	}
	s.Partial = r.Partial
	worst := make([]Vulnerability, len(r.Vulnerabilities))
	copy(worst, r.Vulnerabilities)
	sort.SliceStable(worst, func(i, j int) bool {
		a, b := worst[i], worst[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.CVSS3 != b.CVSS3 {
			return a.CVSS3 > b.CVSS3
		}
		return a.QID < b.QID
	})
	if len(worst) > TopFindings {
		worst = worst[:TopFindings]
	}
	for i := range worst {
		worst[i] = worst[i].compact()
	}
	if len(worst) > 0 {
		s.Top = worst
	}
	return s
}

// compact trims a vulnerability to what an alert needs, bounding its size
// whatever the scanner wrote. The result shares no slice with v.
func (v Vulnerability) compact() Vulnerability {
	const maxPackages, maxCVEs = 3, 5
	v.QID = Truncate(v.QID, 32, "")
	v.Title = Truncate(v.Title, 200, "")
	v.Category = ""
	cves := v.CVEs
	if len(cves) > maxCVEs {
		cves = cves[:maxCVEs]
	}
	v.CVEs = nil
	for _, c := range cves {
		v.CVEs = append(v.CVEs, Truncate(c, 32, ""))
	}
	pkgs := v.Packages
	if len(pkgs) > maxPackages {
		pkgs = pkgs[:maxPackages]
	}
	v.Packages = nil
	for _, p := range pkgs {
		v.Packages = append(v.Packages, Package{Name: Truncate(p.Name, 100, ""), InstalledVersion: Truncate(p.InstalledVersion, 64, ""), FixedVersion: Truncate(p.FixedVersion, 64, "")})
	}
	return v
}
