package qscanner

import (
	"context"
	"errors"
	"fmt"
	"io"

	"ecrscanner/domain"
)

// The SARIF 2.1.0 subset QScanner writes to <image-id>-Report.sarif.json. Key
// names inside the property bags follow what public parsers read (QSCANNER.md)
// and match case-insensitively, as encoding/json matches struct fields. Runs,
// rules, results, their property bags and the vulnerable software lists must
// have the right JSON type (a report of another shape cannot be counted);
// values inside them are read leniently.

type runProperties struct {
	ImageID     text     `json:"imageID"`
	ImageDigest text     `json:"imageDigest"`
	OS          text     `json:"os"`
	RepoTags    textList `json:"repoTags"`
}

type sarifRule struct {
	ID               text           `json:"id"`
	Name             text           `json:"name"`
	ShortDescription message        `json:"shortDescription"`
	Properties       ruleProperties `json:"properties"`
}

type ruleProperties struct {
	QID              text           `json:"QID"`
	Title            text           `json:"title"`
	Severity         text           `json:"severity"`
	CustomerSeverity text           `json:"customerSeverity"`
	CVEIDs           textList       `json:"cve-ids"`
	Category         text           `json:"category"`
	CVSSInfo         soft[cvssInfo] `json:"cvssInfo"`
}

// cvssInfo needs no soft of its own inside: v3 is its only field, so a v3 of
// the wrong type leaves the enclosing soft[cvssInfo] empty, which reads the
// same (no score), for one decoding pass less per rule.
type cvssInfo struct {
	V3 cvssScore `json:"v3"`
}

type cvssScore struct {
	BaseScore text `json:"baseScore"`
}

type sarifResult struct {
	RuleID     text             `json:"ruleId"`
	RuleIndex  text             `json:"ruleIndex"`
	Properties resultProperties `json:"properties"`
}

type resultProperties struct {
	QID                text            `json:"QID"`
	Severity           text            `json:"severity"`
	VulnerableSoftware []softwareEntry `json:"vulnerableSoftware"`
}

type softwareEntry struct {
	Name             text `json:"name"`
	InstalledVersion text `json:"installedVersion"`
	FixedVersion     text `json:"fixedVersion"`
	LayerSHA         text `json:"layerSHA"`
	Path             text `json:"path"`
}

// sarifReport is what the parser takes from the SARIF file.
type sarifReport struct {
	vulnerabilities []domain.Vulnerability
	digest          string
	os              string
	toolVersion     string
	// conflicts lists the duplicated rules whose descriptions disagreed.
	conflicts []conflict
}

// decodeSARIF reads the SARIF log run by run. A log without runs, or a run
// without results, is an error: it cannot be counted.
func decodeSARIF(ctx context.Context, r io.Reader) (*sarifReport, error) {
	s := newJSONStream(ctx, r)
	out := &sarifReport{vulnerabilities: []domain.Vulnerability{}}
	byQID := map[string]int{}
	runs, sawRuns := 0, false
	err := s.document(func() error {
		_, err := s.object("document", func(key string) error {
			if !is(key, "runs") {
				return s.skip()
			}
			null, err := s.array("runs", func() error {
				run := runReader{s: s, out: out, byQID: byQID}
				if err := run.read(); err != nil {
					return err
				}
				if !run.hasResults {
					return fmt.Errorf(`run %d has no "results": the tool produced no findings list`, runs)
				}
				runs++
				return nil
			})
			sawRuns = !null
			return err
		})
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case !sawRuns:
		return nil, errors.New(`no "runs": not a SARIF log`)
	case runs == 0:
		return nil, errors.New(`"runs" is empty: the report covers nothing`)
	}
	return out, nil
}

// lookupRule finds a result's rule by ID, falling back to its index. It
// returns nil when the driver does not describe the rule.
func lookupRule(res sarifResult, rules []sarifRule, byID map[string]*sarifRule) *sarifRule {
	if r, ok := byID[res.RuleID.String()]; ok {
		return r
	}
	if i, ok := res.RuleIndex.integer(); ok && i >= 0 && i < len(rules) && res.RuleID == "" {
		// A duplicated rule's copies are merged into the first: an index
		// naming a later copy must reach the merge too.
		if r, ok := byID[rules[i].ID.String()]; ok {
			return r
		}
		return &rules[i]
	}
	return nil
}

func vulnerability(res sarifResult, rule *sarifRule) domain.Vulnerability {
	var rp ruleProperties
	var ruleID, name, short text
	if rule != nil {
		rp = rule.Properties
		ruleID, name, short = rule.ID, rule.Name, rule.ShortDescription.Text
	}
	pp := res.Properties
	v := domain.Vulnerability{
		QID: firstText(pp.QID, rp.QID, res.RuleID, ruleID).identifier(),
		// Not the result's message: in SARIF it may quote what was found,
		// and a secret's matched text must never reach a report.
		Title:    firstText(rp.Title, short, name).String(),
		Category: rp.Category.String(),
		CVEs:     []string(rp.CVEIDs),
	}
	// The result's own severity wins, then the rule's Qualys severity, then
	// the customer's; none of them means UNKNOWN.
	for _, s := range []text{pp.Severity, rp.Severity, rp.CustomerSeverity} {
		if sev, level := qualysSeverity(s); sev != domain.SeverityUnknown {
			v.Severity, v.QualysSeverity = sev, level
			break
		}
	}
	if score, ok := cvss3(rp); ok {
		v.CVSS3 = score
	}
	for _, sw := range pp.VulnerableSoftware {
		if sw.Name == "" && sw.InstalledVersion == "" {
			continue
		}
		v.Packages = append(v.Packages, domain.Package{
			Name:             sw.Name.String(),
			InstalledVersion: sw.InstalledVersion.String(),
			FixedVersion:     sw.FixedVersion.String(),
			Path:             sw.Path.String(),
			Layer:            sw.LayerSHA.String(),
		})
	}
	return v
}

// merge folds a further result for the same QID into v: one Vulnerability per
// QID, as Qualys counts them, listing every affected package.
func merge(v *domain.Vulnerability, more domain.Vulnerability) {
	if more.Severity > v.Severity {
		v.Severity, v.QualysSeverity = more.Severity, more.QualysSeverity
	}
	if v.CVSS3 < more.CVSS3 {
		v.CVSS3 = more.CVSS3
	}
	if v.Title == "" {
		v.Title = more.Title
	}
	for _, c := range more.CVEs {
		if !contains(v.CVEs, c) {
			v.CVEs = append(v.CVEs, c)
		}
	}
	v.Packages = append(v.Packages, more.Packages...)
}

func firstText(ts ...text) text {
	for _, t := range ts {
		if t != "" {
			return t
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
