package qscanner

import (
	"log/slog"
	"strconv"

	"ecrscanner/domain"
)

// A SARIF driver may describe one rule ID more than once. Taking the last
// description silently downgraded findings (a CVSS 9.8 rule repeated with
// severity 1 was counted INFORMATIONAL and fell below the alert policy), so
// duplicates are merged: what ranks keeps the worse value, what lists keeps
// every entry, and each disagreement is returned as a conflict for the runner
// to log.

// conflict is a disagreement between two descriptions of one SARIF rule that
// the parser settled by keeping the worse value. The report is right without
// it; it is worth logging because it points at a defect in QScanner's output.
type conflict struct {
	RuleID  string
	Field   string // "severity" or "cvss3"
	Kept    string
	Dropped string
}

// LogAttrs gives the conflict as typed slog attributes with stable keys.
func (c conflict) LogAttrs() []any {
	return []any{slog.String("rule_id", c.RuleID), slog.String("field", c.Field), slog.String("kept", c.Kept), slog.String("dropped", c.Dropped)}
}

// indexRules maps rule IDs to their descriptions, merging duplicates into the
// first one, which is changed in place so that a lookup by index reaches the
// merged description too.
func indexRules(rules []sarifRule) (map[string]*sarifRule, []conflict) {
	byID := make(map[string]*sarifRule, len(rules))
	var conflicts []conflict
	for j := range rules {
		id := rules[j].ID.String()
		if id == "" {
			continue
		}
		if first, dup := byID[id]; dup {
			conflicts = append(conflicts, mergeRule(first, &rules[j])...)
			continue
		}
		byID[id] = &rules[j]
	}
	return byID, conflicts
}

// mergeRule folds dup into dst. After it, dst's severity is the worse of the
// two severities vulnerability() would read (the Qualys severity, else the
// customer's), its CVSS the higher score, its CVEs the union; an empty title,
// name, description, category or QID is filled from dup.
func mergeRule(dst, dup *sarifRule) []conflict {
	var out []conflict
	d, p := &dst.Properties, dup.Properties
	_, kept, keptLevel := ruleSeverity(*d)
	dupText, other, otherLevel := ruleSeverity(p)
	if other > kept || (other == kept && otherLevel > keptLevel) {
		d.Severity = dupText
		kept, other = other, kept
	}
	if kept != other {
		out = append(out, conflict{RuleID: dst.ID.String(), Field: "severity", Kept: kept.String(), Dropped: other.String()})
	}
	keptScore, keptOK := cvss3(*d)
	otherScore, otherOK := cvss3(p)
	if otherOK && (!keptOK || otherScore > keptScore) {
		d.CVSSInfo = p.CVSSInfo
		keptScore, keptOK, otherScore, otherOK = otherScore, otherOK, keptScore, keptOK
	}
	if keptOK != otherOK || keptScore != otherScore {
		out = append(out, conflict{RuleID: dst.ID.String(), Field: "cvss3", Kept: scoreText(keptScore, keptOK), Dropped: scoreText(otherScore, otherOK)})
	}
	for _, c := range p.CVEIDs {
		if !contains(d.CVEIDs, c) {
			d.CVEIDs = append(d.CVEIDs, c)
		}
	}
	d.QID, d.Title, d.Category = firstText(d.QID, p.QID), firstText(d.Title, p.Title), firstText(d.Category, p.Category)
	dst.Name = firstText(dst.Name, dup.Name)
	dst.ShortDescription.Text = firstText(dst.ShortDescription.Text, dup.ShortDescription.Text)
	return out
}

// ruleSeverity is the severity vulnerability() takes from a rule: its Qualys
// severity, else the customer's; the text it came from, the severity and the
// Qualys level (0 for a word).
func ruleSeverity(p ruleProperties) (text, domain.Severity, int) {
	for _, t := range []text{p.Severity, p.CustomerSeverity} {
		if sev, level := qualysSeverity(t); sev != domain.SeverityUnknown {
			return t, sev, level
		}
	}
	return "", domain.SeverityUnknown, 0
}

// cvss3 reads a rule's CVSS v3 base score; a missing or out-of-range score is
// not one.
func cvss3(p ruleProperties) (float64, bool) {
	score, err := strconv.ParseFloat(p.CVSSInfo.V.V3.BaseScore.String(), 64)
	if err != nil || !(score >= 0 && score <= 10) {
		return 0, false
	}
	return score, true
}

func scoreText(score float64, ok bool) string {
	if !ok {
		return "none"
	}
	return strconv.FormatFloat(score, 'f', -1, 64)
}
