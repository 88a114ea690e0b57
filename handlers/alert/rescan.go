package main

import (
	"fmt"
	"strings"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// judged is the summary the alert policy judges for ev: a rescan that
// carries its difference from the previous scan is judged on what is new
// only, so that an image already alerted on is alerted on again only when
// something at or above the threshold appeared since. Any other result
// (a first scan, or a rescan whose previous report could not be read) is
// judged whole.
func judged(ev events.ScanEvent) (domain.Summary, bool) {
	if ev.EventType != domain.EventScanCompleted || ev.Changes == nil {
		return *ev.Summary, false
	}
	return ev.Changes.NewSummary(), true
}

// writeChanges says, in a rescan's alert, what is new since the previous
// scan and what was fixed.
func writeChanges(b *strings.Builder, v view) {
	c := v.ev.Changes
	if c == nil || v.ev.EventType != domain.EventScanCompleted {
		return
	}
	fmt.Fprintf(b, "New since the last scan (%s, completed %s; this scan's cause: %s):\n",
		clean(c.PreviousScanID, 64), c.PreviousCompletedAt.UTC().Format(time.RFC3339), v.ev.Cause.OrPush())
	fmt.Fprintf(b, "  %-16s%s\n", "New:", countList(c.NewVulnerabilities))
	if len(c.NewQIDs) > 0 {
		fmt.Fprintf(b, "  %-16s%s\n", "New QIDs:", idList(c.NewQIDs, c.NewVulnerabilities.Total()))
	}
	if c.NewSecrets > 0 {
		fmt.Fprintf(b, "  %-16s%d (%s)\n", "New secrets:", c.NewSecrets, idList(c.NewSecretRules, c.NewSecrets))
	}
	fmt.Fprintf(b, "  %-16s%s\n", "Fixed:", countList(c.FixedVuln))
	if c.FixedSecrets > 0 {
		fmt.Fprintf(b, "  %-16s%d\n", "Secrets gone:", c.FixedSecrets)
	}
}

// newQID reports whether the vulnerability qid is one an alert shows: any,
// except in a rescan's alert, which lists only the new ones it names.
func newQID(v view, qid string) bool {
	c := v.ev.Changes
	if c == nil || v.ev.EventType != domain.EventScanCompleted {
		return true
	}
	for _, id := range c.NewQIDs {
		if id.ID == qid {
			return true
		}
	}
	return false
}

// countList is counts as "1 CRITICAL, 2 HIGH", or "none".
func countList(c domain.Counts) string {
	var parts []string
	for _, sev := range domain.Severities {
		if n := c.Of(sev); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// idList is "CRITICAL 100009, HIGH 100008", with how many more there are
// than the event names.
func idList(ids []domain.DiffID, total int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.Severity.String() + " " + clean(id.ID, 64)
	}
	s := strings.Join(parts, ", ")
	if n := total - len(ids); n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// newSecret reports whether an alert shows sec: any, except in a rescan's
// alert, which lists only the new secrets its difference names.
func newSecret(ev events.ScanEvent, sec domain.Secret) bool {
	c := ev.Changes
	if c == nil || ev.EventType != domain.EventScanCompleted {
		return true
	}
	id := domain.SecretDiffID(sec)
	for _, n := range c.NewSecretRules {
		if n.ID == id {
			return true
		}
	}
	return false
}
