package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/attr"
)

// onlyWhatIsNew narrows, for a rescan that carries its difference from the
// previous scan, an alerting verdict to what is new: an image already
// alerted on is alerted on again only when something at or above the
// threshold appeared since, or came back because the suppression that hid
// it expired since, and the alert counts only that. The verdict on
// the whole (suppressions applied) must alert too, so that what the
// suppressions hide does not alert through the difference. Any other
// result (a first scan, or a rescan whose previous report could not be
// read) keeps the verdict on the whole.
func onlyWhatIsNew(ctx context.Context, v *view, log *slog.Logger) bool {
	c := v.ev.Changes
	if c == nil || v.ev.EventType != domain.EventScanCompleted {
		return true
	}
	fresh, back, hidden := c.NewSummary(), returned(*v), v.suppressedNew
	fresh.Vulnerabilities = fresh.Vulnerabilities.Minus(hidden.Vulnerabilities).Plus(back.Vulnerabilities)
	fresh.Fixable = fresh.Fixable.Minus(hidden.Fixable).Plus(back.Fixable)
	fresh.Secrets = max(0, fresh.Secrets-hidden.Secrets) + back.Secrets
	fresh.SecretSeverity = fresh.SecretSeverity.Minus(hidden.SecretSeverity).Plus(back.SecretSeverity)
	verdict := v.policy.Evaluate(fresh)
	if !verdict.Alert {
		log.InfoContext(ctx, "rescan: nothing new at or above the alert policy's threshold",
			slog.String(attr.Repository, v.repo.Name),
			slog.String("min_severity", v.policy.MinSeverity.String()),
			slog.Int("new_vulnerabilities", c.NewVulnerabilities.Total()),
			slog.Int("new_secrets", c.NewSecrets),
			slog.Int("returned_from_expired_suppressions", back.Vulnerabilities.Total()+back.Secrets))
		return false
	}
	v.verdict = verdict
	return true
}

// lapsedSincePrevious is, for a rescan, the rules that suppressed findings
// of this image when its previous scan was judged and have expired since:
// their findings come back and count as new (issue: an expired suppression
// alerts on the next rescan). None for any other event.
func lapsedSincePrevious(v view, rules domain.Suppressions, now time.Time) domain.Suppressions {
	c := v.ev.Changes
	if c == nil || v.ev.EventType != domain.EventScanCompleted {
		return domain.Suppressions{}
	}
	return rules.Lapsed(v.repo.Name, v.ev.Digest, c.PreviousCompletedAt, now)
}

// countSuppressedNew makes the sift walk of a rescan count, in
// v.suppressedNew, the findings the difference names as new that a rule in
// force suppresses: what is new but accepted must not alert through the
// difference. The difference names at most domain.MaxDiffIDs new findings
// of each kind, most severe first; a new finding beyond them is not known
// by name and still counts as new (the alert errs towards alerting).
func countSuppressedNew(v *view, scoped domain.Suppressions, visit *domain.ReportVisitor) {
	c := v.ev.Changes
	if c == nil || v.ev.EventType != domain.EventScanCompleted {
		return
	}
	qids, secrets := idSet(c.NewQIDs), idSet(c.NewSecretRules)
	vuln, secret := visit.Vulnerability, visit.Secret
	visit.Vulnerability = func(f domain.Vulnerability) error {
		if _, ok := scoped.Vulnerability(f); ok && qids[f.QID] {
			v.suppressedNew.Vulnerabilities.Add(f.Severity)
			if f.Fixable() {
				v.suppressedNew.Fixable.Add(f.Severity)
			}
		}
		return vuln(f)
	}
	visit.Secret = func(s domain.Secret) error {
		if _, ok := scoped.Secret(s); ok && secrets[domain.SecretDiffID(s)] {
			v.suppressedNew.Secrets++
			v.suppressedNew.SecretSeverity.Add(s.Severity)
		}
		return secret(s)
	}
}

func idSet(ids []domain.DiffID) map[string]bool {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id.ID] = true
	}
	return set
}

// returned is what came back from expired suppressions (zero when none).
func returned(v view) domain.Summary {
	if v.sifted == nil {
		return domain.Summary{}
	}
	return v.sifted.Returned
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
	if v.sifted != nil && len(v.sifted.ReturnedListed) > 0 {
		back := v.sifted.Returned
		fmt.Fprintf(b, "  %-16s%s; %d secret(s) (their suppression expired):\n", "Back:", countList(back.Vulnerabilities), back.Secrets)
		for _, f := range v.sifted.ReturnedListed {
			fmt.Fprintf(b, "    %s %s (rule %s expired %s: %s)\n", f.Severity, suppressedName(f), clean(f.RuleID, 64), f.Expires, clean(f.Reason, domain.MaxSuppressionReason))
		}
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
	if v.sifted != nil {
		for _, f := range v.sifted.ReturnedListed {
			if f.Kind == "vulnerability" && f.ID == qid {
				return true
			}
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

// rescanChanges is the difference an alert about v shows: a completed
// rescan's, nil otherwise.
func rescanChanges(v view) *domain.ScanDiff {
	if v.ev.EventType != domain.EventScanCompleted {
		return nil
	}
	return v.ev.Changes
}

// rescanCause is the cause a structured alert names: none for a push (the
// usual case, and every alert before causes existed).
func rescanCause(v view) domain.Cause {
	if c := v.ev.Cause.OrPush(); c != domain.CausePush {
		return c
	}
	return ""
}
