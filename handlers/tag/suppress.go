package main

import (
	"context"
	"fmt"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ecrstore"
)

// suppressions is what the handler needs to count suppressed findings
// apart: the rules, the reports they are applied to, and the clock.
type suppressions struct {
	rules   domain.SuppressionSource
	reports domain.ReportStreamer
	now     func() time.Time
}

// UseSuppressions makes the labels and the summary artifact count what the
// rules in force at now() suppress apart (qualys:suppressed) from the
// counts they show.
func (h *Handler) UseSuppressions(rules domain.SuppressionSource, reports domain.ReportStreamer, now func() time.Time) {
	h.supp = &suppressions{rules: rules, reports: reports, now: now}
}

// loadRules reads the rules for an event; an error is retried (labels that
// ignored the rules would show suppressed findings as open).
func (h *Handler) loadRules(ctx context.Context) (domain.Suppressions, error) {
	if h.supp == nil {
		return domain.Suppressions{}, nil
	}
	ss, _, err := h.supp.rules.Load(ctx)
	if err != nil {
		return domain.Suppressions{}, fmt.Errorf("read suppressions: %w", err)
	}
	return ss, nil
}

// sifted is s for one repository: unchanged when no rule in force applies
// to it and the digest, else with the report's unsuppressed counts and the
// number suppressed.
func (h *Handler) sifted(ctx context.Context, ev events.ScanEvent, repo events.Repository, rules domain.Suppressions, s ecrstore.ScanSummary) (ecrstore.ScanSummary, error) {
	if h.supp == nil {
		return s, nil
	}
	scoped := rules.Scoped(repo.Name, ev.Digest, h.supp.now())
	if len(scoped.Rules) == 0 {
		return s, nil
	}
	sifter := domain.NewSifter(scoped)
	if err := consume.WalkEventReport(ctx, h.supp.reports, ev, sifter.Visitor()); err != nil {
		return s, fmt.Errorf("apply suppressions to the report: %w", err)
	}
	res := sifter.Result()
	s.Summary, s.Suppressed = res.Summary, res.Count()
	return s, nil
}
