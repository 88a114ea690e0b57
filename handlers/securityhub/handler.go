package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/securityhubstore"
)

// findingStore keeps the product's findings in Security Hub. Errors wrapping
// domain.ErrInvalid or securityhubstore.ErrNotEnabled are not cured by a
// retry; others may be.
type findingStore interface {
	// Findings returns every finding whose Id starts with idPrefix, active or
	// archived.
	Findings(ctx context.Context, idPrefix string) ([]securityhubstore.Finding, error)
	// Import creates or updates findings by Id. Security Hub ignores the
	// Workflow of an existing finding and any update older than it.
	Import(ctx context.Context, findings []securityhubstore.Finding) error
	// SetWorkflow sets the workflow status of the findings with these IDs.
	SetWorkflow(ctx context.Context, ids []string, status string) error
}

// Handler mirrors each repository's latest scan into Security Hub: one
// finding per vulnerability (QID) and per secret, with an Id stable across
// scans of the repository (see repositoryPrefix), so a rescan updates the
// findings it still has, and resolves and archives the ones it no longer
// has. What it writes is a function of the event and of what Security Hub
// already holds for the repository, so redeliveries and replays converge on
// the same findings.
type Handler struct {
	reports domain.ReportReader
	hub     findingStore
	product securityhubstore.Product
	logger  *slog.Logger
}

// NewHandler rejects missing dependencies at start-up. product is the
// account's default product, which findings are imported under.
func NewHandler(reports domain.ReportReader, hub findingStore, product securityhubstore.Product, logger *slog.Logger) (*Handler, error) {
	if reports == nil || hub == nil || logger == nil {
		return nil, errors.New("securityhub handler: reports, hub and logger are required")
	}
	if _, err := securityhubstore.ParseProductARN(product.ARN); err != nil {
		return nil, fmt.Errorf("securityhub handler: %w", err)
	}
	return &Handler{reports: reports, hub: hub, product: product, logger: logger}, nil
}

// Handle imports ev's scan for each repository it targets: every known
// repository for ScanCompleted, the newly referenced one for
// ImageReferenced. ScanFailed says nothing about findings and changes
// nothing. An event older than what Security Hub already shows for a
// repository (a late redelivery, an old replay) leaves that repository
// alone. Errors that a retry cannot cure (a malformed event, a report for
// another digest, an image in another account or region, Security Hub not
// enabled) are consume.Permanent; the rest are retried.
func (h *Handler) Handle(ctx context.Context, ev events.ScanEvent) error {
	log := h.logger.With(slog.String(attr.EventID, ev.EventID), slog.String(attr.ImageDigest, ev.Digest.String()), slog.String(attr.ScanID, ev.ScanID))
	switch ev.EventType {
	case domain.EventScanCompleted, domain.EventImageReferenced:
	case domain.EventScanFailed:
		log.InfoContext(ctx, "scan failed; no findings to import", slog.String(attr.EventType, string(ev.EventType)))
		return nil
	default:
		return consume.Permanent(fmt.Errorf("security hub %s: %w event type %q", ev.Digest, domain.ErrInvalid, ev.EventType))
	}
	observedAt := ev.Time
	if observedAt.IsZero() {
		observedAt = ev.ScannedAt
	}
	if ev.Report == nil || observedAt.IsZero() {
		return consume.Permanent(fmt.Errorf("security hub %s: %w %s event: it needs a report pointer and a time", ev.Digest, domain.ErrInvalid, ev.EventType))
	}

	rep, err := consume.EventReport(ctx, h.reports, ev)
	if err != nil {
		return fmt.Errorf("security hub %s: %w", ev.Digest, err)
	}

	for _, repo := range ev.Repositories() {
		if err := h.sync(ctx, log.With(slog.String(attr.Repository, repo.Name)), ev, repo, rep, observedAt.UTC()); err != nil {
			// Repositories already done are rewritten identically on retry.
			return err
		}
	}
	return nil
}

// sync makes Security Hub show rep for one repository.
func (h *Handler) sync(ctx context.Context, log *slog.Logger, ev events.ScanEvent, repo events.Repository, rep *domain.Report, observedAt time.Time) error {
	fail := func(what string, err error) error {
		err = fmt.Errorf("security hub %s for %s: %s: %w", ev.Digest, repo.Name, what, err)
		if errors.Is(err, domain.ErrInvalid) || errors.Is(err, securityhubstore.ErrNotEnabled) {
			return consume.Permanent(err)
		}
		return err
	}
	if repo.Account != h.product.Account || repo.Region != h.product.Region {
		return fail("route", fmt.Errorf("%w: the image is in account %s region %s, findings go to account %s region %s",
			domain.ErrInvalid, repo.Account, repo.Region, h.product.Account, h.product.Region))
	}
	im := image{
		product: h.product, account: repo.Account, region: repo.Region, repository: repo.Name,
		digest: ev.Digest, tags: tagsIn(ev, repo), platform: rep.Platform,
		qscannerVersion: rep.QScannerVersion, scanID: ev.ScanID, observedAt: observedAt,
	}

	existing, err := h.hub.Findings(ctx, im.prefix())
	if err != nil {
		return fail("read findings", err)
	}
	byID := make(map[string]securityhubstore.Finding, len(existing))
	var latest time.Time
	for _, f := range existing {
		byID[f.ID] = f
		if f.UpdatedAt.After(latest) {
			latest = f.UpdatedAt
		}
	}
	if latest.After(observedAt) {
		log.InfoContext(ctx, "security hub already shows a newer scan of the repository; nothing to do",
			slog.Time("observed_at", observedAt), slog.Time("latest_update", latest))
		return nil
	}

	current := findingsOf(im, rep)
	seen := make(map[string]bool, len(current))
	for i := range current {
		seen[current[i].ID] = true
		if old, ok := byID[current[i].ID]; ok {
			// First seen stays first seen, for as long as Security Hub keeps
			// the finding (archived ones too).
			if !old.CreatedAt.IsZero() && !old.CreatedAt.After(observedAt) {
				current[i].CreatedAt = old.CreatedAt
			}
			if !old.FirstObservedAt.IsZero() && !old.FirstObservedAt.After(observedAt) {
				current[i].FirstObservedAt = old.FirstObservedAt
			}
		}
	}
	if len(current) > 0 {
		if err := h.hub.Import(ctx, current); err != nil {
			return fail("import findings", err)
		}
	}

	resolved := 0
	if rep.Partial {
		log.WarnContext(ctx, "partial report: findings it lacks are left as they are")
	} else {
		vanished := vanishedFindings(existing, seen, rep.ScanTypes)
		if err := h.resolve(ctx, vanished, observedAt); err != nil {
			return fail("resolve findings", err)
		}
		resolved = len(vanished)
	}
	log.InfoContext(ctx, "findings imported into security hub",
		slog.Int("findings", len(current)),
		slog.Int("resolved", resolved),
		slog.Int("vulnerabilities", len(rep.Vulnerabilities)),
		slog.Int("secrets", len(rep.Secrets)))
	return nil
}

// vanishedFindings are the active findings of earlier scans that this scan
// no longer has, among the kinds it looked for: a scan without the secret
// scan type resolves no secret.
func vanishedFindings(existing []securityhubstore.Finding, seen map[string]bool, scanTypes []string) []securityhubstore.Finding {
	vulns, secrets := coverage(scanTypes)
	var out []securityhubstore.Finding
	for _, f := range existing {
		if f.RecordState != securityhubstore.RecordStateActive || seen[f.ID] {
			continue
		}
		switch {
		case vulns && strings.HasPrefix(f.GeneratorID, vulnGenerator),
			secrets && strings.HasPrefix(f.GeneratorID, secretGenerator):
			out = append(out, f)
		}
	}
	return out
}

// coverage tells which kinds of finding a scan with these scan types looks
// for; a report that does not say looked for both.
func coverage(scanTypes []string) (vulns, secrets bool) {
	if len(scanTypes) == 0 {
		return true, true
	}
	for _, t := range scanTypes {
		switch strings.ToLower(t) {
		case "pkg", "os", "sca":
			vulns = true
		case "secret":
			secrets = true
		}
	}
	return vulns, secrets
}

// resolve marks findings RESOLVED and archives them. The workflow goes
// first, through BatchUpdateFindings (an import cannot change the workflow
// of an existing finding): if archiving then fails, the retry still finds
// them active and does both again. A finding an analyst suppressed keeps its
// workflow.
func (h *Handler) resolve(ctx context.Context, vanished []securityhubstore.Finding, observedAt time.Time) error {
	if len(vanished) == 0 {
		return nil
	}
	var ids []string
	archived := make([]securityhubstore.Finding, 0, len(vanished))
	for _, f := range vanished {
		switch f.Workflow.Status {
		case securityhubstore.WorkflowNew, securityhubstore.WorkflowNotified:
			ids = append(ids, f.ID)
			f.Workflow.Status = securityhubstore.WorkflowResolved
		}
		f.RecordState = securityhubstore.RecordStateArchived
		f.UpdatedAt = observedAt
		archived = append(archived, f)
	}
	if len(ids) > 0 {
		if err := h.hub.SetWorkflow(ctx, ids, securityhubstore.WorkflowResolved); err != nil {
			return err
		}
	}
	return h.hub.Import(ctx, archived)
}

// tagsIn lists the tags the digest carries in repo: those of the event's
// targets, then any other known reference to the same repository (an
// ImageReferenced event targets only the new tag).
func tagsIn(ev events.ScanEvent, repo events.Repository) []string {
	var tags []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	for _, t := range repo.Tags {
		add(t)
	}
	for _, ref := range ev.References {
		if ref.SameLocation(repo.Ref) {
			add(ref.Tag)
		}
	}
	return tags
}
