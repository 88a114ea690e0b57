package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// SetWorkflow sets the workflow status and note of existing findings.
	SetWorkflow(ctx context.Context, ids []string, status string, note securityhubstore.Note) error
}

// imageTags tells which tags of a repository point at an image now (ECR
// DescribeImages by digest). An image or repository that is gone has none.
type imageTags interface {
	TagsOf(ctx context.Context, ref domain.ImageRef) ([]string, error)
}

// Handler mirrors each repository's images into Security Hub: one finding
// per vulnerability (QID) and per secret of each image (digest), with an Id
// stable across scans of that image in that repository (see imagePrefix), so
// a rescan of the image updates the findings it still has and resolves (by
// archiving, see resolve) the ones it no longer has. Another image pushed to the repository
// gets findings of its own and leaves the first image's alone: an image's
// findings are resolved only once no tag of the repository points at it any
// more, which the handler asks ECR whenever an event for the repository
// arrives. Which scan an image's findings show follows domain.CurrentImage,
// the rule the tag handler's repository labels follow too. What it writes is
// a function of the event, of what Security Hub already holds for the
// repository and of the repository's tags, so redeliveries and replays
// converge on the same findings.
type Handler struct {
	reports domain.ReportStreamer
	hub     findingStore
	tags    imageTags
	product securityhubstore.Product
	members bool // an organization's hub: see account.go
	logger  *slog.Logger
	// rules and now, when set (UseSuppressions), mark suppressed findings.
	rules domain.SuppressionSource
	now   func() time.Time
}

// NewHandler rejects missing dependencies at start-up. product is the
// account's default product, which findings are imported under.
func NewHandler(reports domain.ReportStreamer, hub findingStore, tags imageTags, product securityhubstore.Product, logger *slog.Logger) (*Handler, error) {
	if reports == nil || hub == nil || tags == nil || logger == nil {
		return nil, errors.New("securityhub handler: reports, hub, tags and logger are required")
	}
	if _, err := securityhubstore.ParseProductARN(product.ARN); err != nil {
		return nil, fmt.Errorf("securityhub handler: %w", err)
	}
	return &Handler{reports: reports, hub: hub, tags: tags, product: product, logger: logger}, nil
}

// Handle imports ev's scan for each repository it targets: every known
// repository for ScanCompleted, the newly referenced one for
// ImageReferenced. ScanFailed says nothing about findings and changes
// nothing. An event older than what Security Hub already shows for the
// image (by domain.CurrentImage: a late redelivery, an old replay) leaves its
// findings alone. Errors that a retry cannot cure (a malformed event, a report for
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

	rep, err := h.reportHead(ctx, ev)
	if err != nil {
		return fmt.Errorf("security hub %s: %w", ev.Digest, err)
	}
	rules, err := h.loadRules(ctx)
	if err != nil {
		return fmt.Errorf("security hub %s: %w", ev.Digest, err)
	}

	counts := &qidCounts{}
	for _, repo := range ev.Repositories() {
		if err := h.sync(ctx, log.With(slog.String(attr.Repository, repo.Name)), ev, repo, rep, observedAt.UTC(), counts, rules); err != nil {
			// Repositories already done are rewritten identically on retry.
			return err
		}
	}
	return nil
}

// sync makes Security Hub show rep for the event's image in one repository,
// then resolves the findings of the repository's other images that no tag
// points at any more.
func (h *Handler) sync(ctx context.Context, log *slog.Logger, ev events.ScanEvent, repo events.Repository, rep domain.ReportHead, observedAt time.Time, counts *qidCounts, rules domain.Suppressions) error {
	fail := func(what string, err error) error {
		err = fmt.Errorf("security hub %s for %s: %s: %w", ev.Digest, repo.Name, what, err)
		if errors.Is(err, domain.ErrInvalid) || errors.Is(err, securityhubstore.ErrNotEnabled) {
			return consume.Permanent(err)
		}
		return err
	}
	if !h.members && (repo.Account != h.product.Account || repo.Region != h.product.Region) {
		return fail("route", fmt.Errorf("%w: the image is in account %s region %s, findings go to account %s region %s",
			domain.ErrInvalid, repo.Account, repo.Region, h.product.Account, h.product.Region))
	}
	im := h.imageOf(ev, repo, rep, observedAt)
	all, err := h.hub.Findings(ctx, im.repoPrefix())
	if err != nil {
		return fail("read findings", err)
	}
	existing, legacy := ofImage(all, im)
	event := domain.ImageScan{Digest: im.digest, ScannedAt: im.scannedAt}
	shown, latest := shownScan(existing, im.digest)
	if !domain.CurrentImage(shown, event) || latest.After(observedAt) {
		log.InfoContext(ctx, "security hub already shows a newer scan of the image; nothing to do",
			slog.Time("observed_at", observedAt), slog.Time("latest_update", latest), slog.Time("shown_scan_time", shown.ScannedAt))
		return nil
	}
	current, err := h.importReport(ctx, ev, im, existing, observedAt, counts, h.suppressorFor(rules, im))
	if err != nil {
		return fail("import findings", err)
	}
	seen := current.seen
	// Findings written before Ids named the image now have successors:
	// archived, their workflow left as an analyst set it (not RESOLVED, as
	// the image may still have them).
	if len(legacy) > 0 {
		if err := h.hub.Import(ctx, archivedAt(legacy, observedAt)); err != nil {
			return fail("archive findings under the former Ids", err)
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
	untagged, err := h.resolveUntagged(ctx, log, im, all)
	if err != nil {
		return fail("resolve findings of untagged images", err)
	}
	log.InfoContext(ctx, "findings imported into security hub",
		slog.Int("findings", current.findings),
		slog.Int("resolved", resolved),
		slog.Int("resolved_untagged", untagged),
		slog.Int("suppressed", current.suppressed),
		slog.Int("vulnerabilities", current.vulns),
		slog.Int("secrets", current.secrets),
		slog.String("repository_current_digest", repositoryCurrent(all, event).Digest.String()))
	return nil
}

// imageOf is the image whose findings an event sets in one repository.
func (h *Handler) imageOf(ev events.ScanEvent, repo events.Repository, rep domain.ReportHead, observedAt time.Time) image {
	scannedAt := ev.ScannedAt
	if scannedAt.IsZero() {
		scannedAt = observedAt
	}
	return image{
		product: h.product, account: repo.Account, region: repo.Region, repository: repo.Name,
		digest: ev.Digest, tags: tagsIn(ev, repo), platform: rep.Platform,
		qscannerVersion: rep.QScannerVersion, scanID: ev.ScanID, scannedAt: scannedAt.UTC(), observedAt: observedAt,
	}
}

// resolveUntagged resolves (archives) the active findings of the
// repository's other images that no tag points at any more, as ECR says now.
// An image ECR cannot answer for keeps its findings (a later event asks
// again): a finding is never resolved on a guess.
func (h *Handler) resolveUntagged(ctx context.Context, log *slog.Logger, im image, all []securityhubstore.Finding) (int, error) {
	others := map[domain.Digest][]securityhubstore.Finding{}
	var digests []domain.Digest
	for _, f := range all {
		d := findingDigest(f)
		if d == "" || d == im.digest || f.RecordState != securityhubstore.RecordStateActive {
			continue
		}
		if _, ok := others[d]; !ok {
			digests = append(digests, d)
		}
		others[d] = append(others[d], f)
	}
	slices.Sort(digests)
	resolved := 0
	for _, d := range digests {
		ref := domain.ImageRef{Account: im.account, Region: im.region, Repository: im.repository, Digest: d}
		tags, err := h.tags.TagsOf(ctx, ref)
		if err != nil {
			log.WarnContext(ctx, "cannot tell whether an image is still tagged; its findings stay active",
				slog.String("other_digest", d.String()), slog.String("error", err.Error()))
			continue
		}
		if len(tags) > 0 {
			continue
		}
		if err := h.resolve(ctx, others[d], im.observedAt); err != nil {
			return resolved, err
		}
		log.InfoContext(ctx, "no tag points at an image any more; its findings are resolved",
			slog.String("other_digest", d.String()), slog.Int("findings", len(others[d])))
		resolved += len(others[d])
	}
	return resolved, nil
}

// ofImage picks, from every finding of the repository, those of im's image
// under their Ids, and the active ones of the same image under the former
// repository-wide Ids.
func ofImage(all []securityhubstore.Finding, im image) (existing, legacy []securityhubstore.Finding) {
	for _, f := range all {
		switch {
		case strings.HasPrefix(f.ID, im.prefix()):
			existing = append(existing, f)
		case isLegacy(f.ID, im.repoPrefix()) && findingDigest(f) == im.digest && f.RecordState == securityhubstore.RecordStateActive:
			legacy = append(legacy, f)
		}
	}
	return existing, legacy
}

// isLegacy: an Id of the former scheme, which named the repository only.
func isLegacy(id, repoPrefix string) bool {
	rest, ok := strings.CutPrefix(id, repoPrefix)
	return ok && (strings.HasPrefix(rest, "vuln:") || strings.HasPrefix(rest, "secret:"))
}

// findingDigest is the image a finding is about, as its resource names it.
func findingDigest(f securityhubstore.Finding) domain.Digest {
	for _, r := range f.Resources {
		if r.Details != nil && r.Details.AwsEcrContainerImage != nil {
			return domain.Digest(r.Details.AwsEcrContainerImage.ImageDigest)
		}
	}
	return ""
}

// findingScan is the scan a finding shows, from the time it records (zero
// for a finding written before it did).
func findingScan(f securityhubstore.Finding) domain.ImageScan {
	at, err := time.Parse(time.RFC3339Nano, f.ProductFields[scannedAtField])
	if err != nil {
		return domain.ImageScan{}
	}
	return domain.ImageScan{Digest: findingDigest(f), ScannedAt: at}
}

// shownScan is the newest scan the image's findings show, and their latest
// update.
func shownScan(fs []securityhubstore.Finding, digest domain.Digest) (shown domain.ImageScan, latest time.Time) {
	for _, f := range fs {
		if f.UpdatedAt.After(latest) {
			latest = f.UpdatedAt
		}
		if s := findingScan(f); !s.IsZero() && s.Digest == digest && domain.CurrentImage(shown, s) {
			shown = s
		}
	}
	return shown, latest
}

// repositoryCurrent is the repository's current image by domain.CurrentImage
// among the images with active findings and the event's: the image the tag
// handler's repository labels describe too.
func repositoryCurrent(all []securityhubstore.Finding, event domain.ImageScan) domain.ImageScan {
	current := event
	for _, f := range all {
		if f.RecordState != securityhubstore.RecordStateActive {
			continue
		}
		if s := findingScan(f); !s.IsZero() && !domain.CurrentImage(s, current) {
			current = s
		}
	}
	return current
}

// archivedAt returns fs archived as of at or, for a finding updated at or
// after at (an event for another image of the repository, delivered late),
// a millisecond after its own last update: Security Hub ignores an update
// older than the stored finding and documents nothing for an equal one.
// Keys Security Hub added under aws/ are dropped: a provider must not send
// them back.
func archivedAt(fs []securityhubstore.Finding, at time.Time) []securityhubstore.Finding {
	out := make([]securityhubstore.Finding, 0, len(fs))
	for _, f := range fs {
		f.RecordState = securityhubstore.RecordStateArchived
		f.ProductFields = securityhubstore.WithoutReserved(f.ProductFields)
		if f.UpdatedAt.Before(at) {
			f.UpdatedAt = at
		} else {
			f.UpdatedAt = f.UpdatedAt.Add(time.Millisecond)
		}
		out = append(out, f)
	}
	return out
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

// resolve archives findings by importing them again with RecordState
// ARCHIVED: the one change a finding provider may make to its own findings
// that takes them out of Security Hub's default (active) views. Their
// workflow stays as it is: it belongs to the customer, an import cannot
// change it, and BatchUpdateFindings, which could, has no resource-level
// permissions or condition key for the finding's product, so the function is
// not granted it (it would let it resolve any product's findings):
// https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecurityhub.html
// Should a finding come back, its import makes it ACTIVE again and Security
// Hub resets a RESOLVED or NOTIFIED workflow to NEW.
func (h *Handler) resolve(ctx context.Context, vanished []securityhubstore.Finding, observedAt time.Time) error {
	if len(vanished) == 0 {
		return nil
	}
	return h.hub.Import(ctx, archivedAt(vanished, observedAt))
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
