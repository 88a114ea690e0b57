package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/securityhubstore"
)

// The report is never held whole: the handler reads its head first, then
// walks its findings (domain.ReportStreamer) and imports them in batches of
// securityhubstore.MaxBatch as they come, holding one batch of findings,
// the Ids of the image's findings it has met, and the QIDs of the report.
// A 100,000-finding report (40 MB of JSON) needs a few tens of MB this way
// (BenchmarkSecurityHubMemory) where reading it whole and mapping it at
// once needed over a GB.

// maxRepeatedEntries bounds the vulnerability entries of the QIDs a report
// lists more than once. Those are merged into one finding each (as
// findingsOf does), so they are held until their last entry has been
// walked. The scan function writes one entry per QID; repeats come only from
// another writer, and past this many such a report is refused for good
// rather than let run the function out of memory.
const maxRepeatedEntries = 10_000

// errReportChanged: the report read differently on the second walk. Its
// object is written once per scan, so a retry reads it whole again.
var errReportChanged = errors.New("report changed while it was read; retrying")

// reportHead reads the head of ev's report, checking that it is the event's
// image's, and nothing more.
func (h *Handler) reportHead(ctx context.Context, ev events.ScanEvent) (domain.ReportHead, error) {
	var head domain.ReportHead
	err := consume.WalkEventReport(ctx, h.reports, ev, domain.ReportVisitor{
		Head: func(hd domain.ReportHead) error { head = hd; return domain.ErrStopWalk },
	})
	return head, err
}

// imported is what importing a report did.
type imported struct {
	// seen holds the Ids, among those of existing findings, that the report
	// still has: all that vanishedFindings asks.
	seen                                 map[string]bool
	findings, vulns, secrets, suppressed int
}

// importReport imports ev's report as im's findings, one finding per QID
// and per secret, carrying each existing finding's first sighting over.
// It walks the report once, after counts has had it counted (once per
// event, see qidCounts), so that a QID listed once (every QID, as the scan
// function writes reports) is imported as soon as it is met, and the
// entries of the others merged until their last one.
func (h *Handler) importReport(ctx context.Context, ev events.ScanEvent, im image, existing []securityhubstore.Finding, observedAt time.Time, counts *qidCounts, sup suppressor) (imported, error) {
	entries, err := counts.of(ctx, h, ev)
	if err != nil {
		return imported{}, err
	}
	b := newBatcher(h.hub, existing, observedAt)
	merged := map[string]*domain.Vulnerability{}
	secrets := map[string]bool{}
	res := imported{}
	err = consume.WalkEventReport(ctx, h.reports, ev, domain.ReportVisitor{
		Vulnerability: func(v domain.Vulnerability) error {
			res.vulns++
			k := vulnKey(v.QID)
			entries[k]--
			switch left, m := entries[k], merged[k]; {
			case left < 0:
				return errReportChanged
			case m == nil && left == 0:
				return b.add(ctx, sup.vuln(vulnFinding(im, v), v))
			case m == nil:
				// The walk may share v's lists with the report: merge into
				// copies.
				v.CVEs = slices.Clone(v.CVEs)
				v.Packages = slices.Clone(v.Packages)
				merged[k] = &v
				return nil
			default:
				mergeVuln(m, v)
				if left > 0 {
					return nil
				}
				delete(merged, k)
				return b.add(ctx, sup.vuln(vulnFinding(im, *m), *m))
			}
		},
		Secret: func(s domain.Secret) error {
			res.secrets++
			k := secretKey(s)
			if secrets[k] {
				return nil
			}
			secrets[k] = true
			return b.add(ctx, sup.secret(secretFinding(im, s), s))
		},
	})
	if err == nil && len(merged) > 0 {
		err = errReportChanged // a QID had fewer entries than counted
	}
	if err == nil {
		err = b.flush(ctx)
	}
	if err == nil {
		// After the import: BatchUpdateFindings changes existing findings only.
		err = b.workflow.apply(ctx, h.hub)
	}
	res.seen, res.findings, res.suppressed = b.seen, b.added, b.suppressed
	return res, err
}

// qidCounts holds the entries of each QID of one event's report, counted
// at most once however many repositories the event's image is in: the count
// depends on the report alone. The zero value is ready to use.
type qidCounts struct {
	entries map[string]int
	err     error
	done    bool
}

// of counts ev's report's QIDs the first time it is asked.
func (c *qidCounts) of(ctx context.Context, h *Handler, ev events.ScanEvent) (map[string]int, error) {
	if !c.done {
		c.entries, c.err = h.countQIDs(ctx, ev)
		c.done = true
	}
	return c.entries, c.err
}

// countQIDs walks ev's report and counts the entries of each QID (by
// vulnKey), refusing a report that repeats QIDs past maxRepeatedEntries.
func (h *Handler) countQIDs(ctx context.Context, ev events.ScanEvent) (map[string]int, error) {
	entries := map[string]int{}
	repeated := 0
	err := consume.WalkEventReport(ctx, h.reports, ev, domain.ReportVisitor{
		Vulnerability: func(v domain.Vulnerability) error {
			k := vulnKey(v.QID)
			entries[k]++
			switch n := entries[k]; {
			case n == 2:
				repeated += 2
			case n > 2:
				repeated++
			}
			if repeated > maxRepeatedEntries {
				return consume.Permanent(fmt.Errorf("%w report: more than %d entries of QIDs listed more than once (QID %q)",
					domain.ErrInvalid, maxRepeatedEntries, domain.Truncate(v.QID, 64, domain.Ellipsis)))
			}
			return nil
		},
	})
	return entries, err
}

// mergeVuln folds a further entry of m's QID into m, as findingsOf does:
// the worse ratings, every CVE and package.
func mergeVuln(m *domain.Vulnerability, v domain.Vulnerability) {
	m.Severity = max(m.Severity, v.Severity)
	m.QualysSeverity = max(m.QualysSeverity, v.QualysSeverity)
	m.CVSS3 = max(m.CVSS3, v.CVSS3)
	m.CVEs = append(m.CVEs, v.CVEs...)
	m.Packages = append(m.Packages, v.Packages...)
}

// batcher imports findings in batches of securityhubstore.MaxBatch,
// carrying each existing finding's first sighting over to its successor:
// first seen stays first seen for as long as Security Hub keeps the finding
// (archived ones too), unless the stored time is later than this
// observation.
type batcher struct {
	hub        findingStore
	existing   []securityhubstore.Finding
	byID       map[string]int // index in existing; a copy of each would double them
	observedAt time.Time
	batch      []securityhubstore.Finding
	seen       map[string]bool
	added      int
	suppressed int
	workflow   workflowUpdates
}

func newBatcher(hub findingStore, existing []securityhubstore.Finding, observedAt time.Time) *batcher {
	byID := make(map[string]int, len(existing))
	for i, f := range existing {
		byID[f.ID] = i
	}
	return &batcher{hub: hub, existing: existing, byID: byID, observedAt: observedAt, seen: map[string]bool{}, workflow: workflowUpdates{}}
}

// add queues f, importing the batch once it is full.
func (b *batcher) add(ctx context.Context, f securityhubstore.Finding) error {
	b.added++
	if f.Workflow.Status == securityhubstore.WorkflowSuppressed {
		b.suppressed++
	}
	if i, ok := b.byID[f.ID]; ok {
		old := &b.existing[i]
		b.seen[f.ID] = true
		b.workflow.note(*old, f)
		if !old.CreatedAt.IsZero() && !old.CreatedAt.After(b.observedAt) {
			f.CreatedAt = old.CreatedAt
		}
		if !old.FirstObservedAt.IsZero() && !old.FirstObservedAt.After(b.observedAt) {
			f.FirstObservedAt = old.FirstObservedAt
		}
	}
	b.batch = append(b.batch, f)
	if len(b.batch) < securityhubstore.MaxBatch {
		return nil
	}
	return b.flush(ctx)
}

// flush imports what is queued.
func (b *batcher) flush(ctx context.Context) error {
	if len(b.batch) == 0 {
		return nil
	}
	batch := b.batch
	b.batch = make([]securityhubstore.Finding, 0, securityhubstore.MaxBatch)
	return b.hub.Import(ctx, batch)
}
