package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
)

// UseSuppressions makes the handler apply the rules src holds, as they
// stand at now() when it acts: a suppressed finding stops alerting and is
// listed apart with its reason; an expired rule suppresses nothing.
func (h *Handler) UseSuppressions(src domain.SuppressionSource, now func() time.Time) {
	h.rules, h.now = src, now
}

// Notes an alert carries when suppressions could not be applied: it then
// alerts on every finding rather than on none.
const (
	noteRulesUnreadable  = "Suppressions could not be read, so none is applied: every finding is shown."
	noteReportUnreadable = "Suppressions could not be applied (the report could not be read): every finding is shown."
)

// loadRules reads the rules once for an event. A failure is logged and
// returned; the caller then applies none.
func (h *Handler) loadRules(ctx context.Context, log *slog.Logger) (domain.Suppressions, error) {
	if h.rules == nil {
		return domain.Suppressions{}, nil
	}
	ss, _, err := h.rules.Load(ctx)
	if err != nil {
		log.WarnContext(ctx, "suppressions not readable; alerting on every finding", attr.Err(err))
	}
	return ss, err
}

// judge fills v's summary (after the suppressions scoped to its repository
// and digest) and verdict, and says whether it alerts.
func (h *Handler) judge(ctx context.Context, v *view, rules domain.Suppressions, rulesErr error, log *slog.Logger) bool {
	v.summary = *v.ev.Summary
	switch {
	case rulesErr != nil:
		v.suppressionNote = noteRulesUnreadable
	case h.rules != nil:
		scoped := rules.Scoped(v.repo.Name, v.ev.Digest, h.now())
		lapsed := lapsedSincePrevious(*v, rules, h.now()) // rescan.go
		if len(scoped.Rules) > 0 || len(lapsed.Rules) > 0 {
			h.sift(ctx, v, scoped, lapsed, log)
		}
	}
	v.verdict = v.policy.Evaluate(v.summary)
	if v.verdict.Alert {
		return onlyWhatIsNew(ctx, v, log) // a rescan alerts on what is new (rescan.go)
	}
	suppressed := 0
	if v.sifted != nil {
		suppressed = v.sifted.Count()
	}
	log.InfoContext(ctx, "scan result below the alert policy",
		slog.String(attr.Repository, v.repo.Name),
		slog.String("min_severity", v.policy.MinSeverity.String()),
		slog.Int("vulnerabilities", v.summary.Vulnerabilities.Total()),
		slog.Int("secrets", v.summary.Secrets),
		slog.Int("suppressed", suppressed))
	return false
}

var errOtherDigest = errors.New("the report is for another digest")

// sift walks the report once, splitting suppressed findings from the rest
// (and counting those that lapsed rules suppressed before) and keeping the
// unsuppressed secrets the alert lists. If the report
// cannot be read, nothing is suppressed and the alert says so.
func (h *Handler) sift(ctx context.Context, v *view, scoped, lapsed domain.Suppressions, log *slog.Logger) {
	if v.ev.Report == nil {
		v.suppressionNote = noteReportUnreadable
		return
	}
	sifter := domain.NewSifter(scoped).WithLapsed(lapsed)
	shown := shownSecrets{max: maxSecretsShown}
	visit := sifter.Visitor()
	head, secret := visit.Head, visit.Secret
	visit.Head = func(hd domain.ReportHead) error {
		if hd.Digest != v.ev.Digest {
			return errOtherDigest
		}
		return head(hd)
	}
	visit.Secret = func(s domain.Secret) error {
		if _, ok := scoped.Secret(s); !ok {
			_ = shown.add(s)
		}
		return secret(s)
	}
	countSuppressedNew(v, scoped, &visit) // rescan.go
	if err := h.reports.WalkReport(ctx, *v.ev.Report, visit); err != nil {
		log.WarnContext(ctx, "report not readable; no suppression applied", slog.String(attr.Repository, v.repo.Name), attr.Err(err))
		v.suppressionNote = noteReportUnreadable
		return
	}
	s := sifter.Result()
	v.sifted, v.summary, v.secrets = &s, s.Summary, shown.list
}

// writeSuppressed lists what the suppressions in force took out of the
// alert, each with its rule's reason and expiry: suppressed, never dropped.
func writeSuppressed(b *strings.Builder, v view) {
	s := v.sifted
	if s == nil || s.Count() == 0 {
		return
	}
	fmt.Fprintf(b, "\nSuppressed (%d; not counted above: accepted risks, until they expire)\n", s.Count())
	for i, f := range s.Listed {
		loc := ""
		if f.Location != "" {
			loc = "  " + clean(f.Location, maxFieldBytes)
		}
		fmt.Fprintf(b, "  %d. %s  %s%s\n     reason: %s (rule %s, expires %s)\n", i+1, f.Severity, suppressedName(f), loc, clean(f.Reason, domain.MaxSuppressionReason), clean(f.RuleID, 64), f.Expires)
	}
	if n := s.Count() - len(s.Listed); n > 0 {
		fmt.Fprintf(b, "  ... and %d more; see ecrscan gate or Security Hub.\n", n)
	}
}

// suppressedName names a suppressed finding: "QID 379201" or "secret
// aws-access-key-id".
func suppressedName(f domain.SuppressedFinding) string {
	if f.Kind == "secret" {
		return "secret " + clean(f.ID, 128)
	}
	return "QID " + clean(f.ID, 128)
}
