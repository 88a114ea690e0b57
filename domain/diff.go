package domain

import (
	"cmp"
	"hash/fnv"
	"slices"
	"strconv"
	"time"
)

// MaxDiffIDs bounds the QIDs and secret rules a ScanDiff lists by name, so
// that the ScanCompleted event carrying it stays far below the bus's 256 KB
// whatever the reports' sizes; the counts are always complete.
const MaxDiffIDs = 20

// ScanDiff is what changed between a digest's previous completed scan and
// the current one: vulnerabilities (by QID) and secrets (by rule, file and
// line) that are new, and those that are gone (fixed).
type ScanDiff struct {
	PreviousScanID      string    `json:"previousScanId"`
	PreviousCompletedAt time.Time `json:"previousCompletedAt"`
	NewVulnerabilities  Counts    `json:"newVulnerabilities"`
	// NewFixable counts the new vulnerabilities that have a fixed version,
	// for an alert policy that counts only those.
	NewFixable        Counts `json:"newFixable"`
	FixedVuln         Counts `json:"fixedVulnerabilities"`
	NewSecrets        int    `json:"newSecrets"`
	NewSecretSeverity Counts `json:"newSecretSeverity"`
	FixedSecrets      int    `json:"fixedSecrets"`
	// NewQIDs and FixedQIDs name up to MaxDiffIDs of each, most severe
	// first; NewSecretRules up to MaxDiffIDs new secrets, as SecretDiffID
	// names them (rule and location, never the matched text).
	NewQIDs        []DiffID `json:"newQids,omitempty"`
	FixedQIDs      []DiffID `json:"fixedQids,omitempty"`
	NewSecretRules []DiffID `json:"newSecretRules,omitempty"`
}

// DiffID names one finding of a difference, with its severity.
type DiffID struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
}

// NewSummary is the new findings as a Summary, for an alert policy to
// evaluate: a rescan alerts only on what is new.
func (d ScanDiff) NewSummary() Summary {
	return Summary{Vulnerabilities: d.NewVulnerabilities, Fixable: d.NewFixable, Secrets: d.NewSecrets, SecretSeverity: d.NewSecretSeverity}
}

// Empty reports whether nothing changed.
func (d ScanDiff) Empty() bool {
	return d.NewVulnerabilities.Total() == 0 && d.FixedVuln.Total() == 0 && d.NewSecrets == 0 && d.FixedSecrets == 0
}

// Differ computes a ScanDiff with memory bounded by the current report
// (already in memory when a scan completes) plus 9 bytes per finding of the
// current report: the previous report, which may hold 100,000 findings, is
// walked one finding at a time and never held. Findings are matched by a
// 64-bit FNV hash of their identity; a collision (odds about n²/2⁶⁵) would
// hide one change, which the full reports still show.
type Differ struct {
	cur  *Report
	seen map[uint64]bool // current findings' keys; true once met in the previous report
	diff ScanDiff
	fix  idList
}

// NewDiffer prepares the difference of cur from the previous scan prev.
func NewDiffer(prev PreviousScan, cur *Report) *Differ {
	d := &Differ{cur: cur, seen: make(map[uint64]bool, len(cur.Vulnerabilities)+len(cur.Secrets))}
	d.diff.PreviousScanID, d.diff.PreviousCompletedAt = prev.ScanID, prev.CompletedAt
	for _, v := range cur.Vulnerabilities {
		d.seen[vulnKey(v)] = false
	}
	for _, s := range cur.Secrets {
		d.seen[secretKey(s)] = false
	}
	return d
}

// Visitor is what to walk the previous report with.
func (d *Differ) Visitor() ReportVisitor {
	return ReportVisitor{
		Vulnerability: func(v Vulnerability) error {
			k := vulnKey(v)
			if _, ok := d.seen[k]; ok {
				d.seen[k] = true
				return nil
			}
			d.diff.FixedVuln.Add(v.Severity)
			d.fix.add(v.QID, v.Severity)
			return nil
		},
		Secret: func(s Secret) error {
			k := secretKey(s)
			if _, ok := d.seen[k]; ok {
				d.seen[k] = true
				return nil
			}
			d.diff.FixedSecrets++
			return nil
		},
	}
}

// Diff is the difference once the previous report has been walked whole.
func (d *Differ) Diff() ScanDiff {
	out := d.diff
	var added, secrets idList
	for _, v := range d.cur.Vulnerabilities {
		if !d.seen[vulnKey(v)] {
			out.NewVulnerabilities.Add(v.Severity)
			if v.Fixable() {
				out.NewFixable.Add(v.Severity)
			}
			added.add(v.QID, v.Severity)
		}
	}
	for _, s := range d.cur.Secrets {
		if !d.seen[secretKey(s)] {
			out.NewSecrets++
			out.NewSecretSeverity.Add(s.Severity)
			secrets.add(SecretDiffID(s), s.Severity)
		}
	}
	out.NewQIDs, out.FixedQIDs, out.NewSecretRules = added.ids, d.fix.ids, secrets.ids
	return out
}

// idList keeps the MaxDiffIDs most severe IDs added to it (ties by ID), each
// clipped, so that a list stays small whatever it is fed.
type idList struct{ ids []DiffID }

func (l *idList) add(id string, sev Severity) {
	l.ids = append(l.ids, DiffID{ID: Truncate(id, 200, ""), Severity: sev})
	slices.SortStableFunc(l.ids, func(a, b DiffID) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	l.ids = l.ids[:min(len(l.ids), MaxDiffIDs)]
}

// SecretDiffID names a secret in a ScanDiff: its rule and where it is
// ("aws-access-key-id app/.env:3"), clipped.
func SecretDiffID(s Secret) string {
	return Truncate(s.RuleID+" "+s.File+":"+strconv.Itoa(s.StartLine), 200, "")
}

func vulnKey(v Vulnerability) uint64 { return hashKey("v", v.QID) }

func secretKey(s Secret) uint64 {
	return hashKey("s", s.RuleID, s.File, strconv.Itoa(s.StartLine))
}

func hashKey(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}
