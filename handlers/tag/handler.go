package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/ecrstore"
)

// RepositoryTagger keeps the latest scan's labels on a repository.
type RepositoryTagger interface {
	// LastScan reads what the repository's labels describe; ok is false when
	// it carries none.
	LastScan(ctx context.Context, repo ecrstore.RepositoryRef) (rec ecrstore.RecordedScan, ok bool, err error)
	// TagRepository writes s's labels to the repository.
	TagRepository(ctx context.Context, repo ecrstore.RepositoryRef, s ecrstore.ScanSummary) error
}

// SummaryAttacher attaches a scan summary to an image. Attaching the same
// scan again must change nothing.
type SummaryAttacher interface {
	PutSummary(ctx context.Context, ref domain.ImageRef, s ecrstore.ScanSummary) (digest string, err error)
}

// Handler records scan results where registry users see them: labels on each
// repository the image is in, and a summary artifact attached to the image
// in each of them.
type Handler struct {
	tagger    RepositoryTagger
	referrers SummaryAttacher
	logger    *slog.Logger
	supp      *suppressions // nil: none applied (UseSuppressions)
}

// NewHandler rejects missing dependencies at start-up.
func NewHandler(tagger RepositoryTagger, referrers SummaryAttacher, logger *slog.Logger) (*Handler, error) {
	if tagger == nil || referrers == nil || logger == nil {
		return nil, errors.New("tag handler: tagger, referrers and logger are required")
	}
	return &Handler{tagger: tagger, referrers: referrers, logger: logger}, nil
}

// Handle acts on a completed scan (for every repository the digest is in) or
// a new reference to a scanned digest (for the new reference's repository
// only); a failed scan leaves nothing to record. Every repository is
// attempted whatever happens to the others. The error is permanent when
// every failure is (a repository or image that is gone, an invalid event), so
// that retries are spent only where they may help; redoing a repository that
// succeeded is harmless.
func (h *Handler) Handle(ctx context.Context, ev events.ScanEvent) error {
	switch ev.EventType {
	case domain.EventScanCompleted, domain.EventImageReferenced:
	case domain.EventScanFailed:
		h.logger.InfoContext(ctx, "scan failed; nothing to tag",
			slog.String(attr.EventID, ev.EventID),
			slog.String(attr.ImageDigest, ev.Digest.String()),
			slog.String(attr.ScanID, ev.ScanID))
		return nil
	default:
		h.logger.WarnContext(ctx, "event type not handled",
			slog.String(attr.EventID, ev.EventID),
			slog.String(attr.EventType, string(ev.EventType)))
		return nil
	}
	s, err := scanSummary(ev)
	if err != nil {
		return consume.Permanent(fmt.Errorf("tag %s: %w", ev.Digest, err))
	}
	rules, err := h.loadRules(ctx)
	if err != nil {
		return fmt.Errorf("tag %s: %w", ev.Digest, err)
	}
	var errs []error
	for _, repo := range ev.Repositories() {
		s, err := h.sifted(ctx, ev, repo, rules, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("tag %s for %s: %w", ev.Digest, repo.Name, err))
			continue
		}
		for _, err := range []error{h.tag(ctx, repo, s, ev.Cause.OrPush()), h.attach(ctx, repo, s)} {
			if isPermanent(err) {
				err = consume.Permanent(err)
			}
			errs = append(errs, err)
		}
	}
	return consume.Join(errs...)
}

// tag writes the scan's labels to the repository when the event's image is
// the repository's current one by domain.CurrentImage (the rule the Security
// Hub handler follows too), so the labels converge on the newest scan
// whatever order events arrive in, and an older cached digest re-tagged later
// leaves them alone; a scan no push caused takes them only for the image
// they already describe (domain.CurrentImageAfter).
func (h *Handler) tag(ctx context.Context, repo events.Repository, s ecrstore.ScanSummary, cause domain.Cause) error {
	ref := ecrstore.RepositoryRef{Account: repo.Account, Region: repo.Region, Name: repo.Name}
	log := h.logger.With(slog.String(attr.Repository, repo.Name), slog.String(attr.ImageDigest, s.Digest.String()), slog.String(attr.ScanID, s.ScanID))
	rec, ok, err := h.tagger.LastScan(ctx, ref)
	if err != nil {
		return err
	}
	if ok && !domain.CurrentImageAfter(recordedImage(rec), domain.ImageScan{Digest: s.Digest, ScannedAt: s.ScannedAt}, cause) {
		log.InfoContext(ctx, "repository describes a newer scan, or another image than this rescan's; tags kept",
			slog.String("cause", string(cause)),
			slog.Time("recorded_scan_time", rec.ScannedAt),
			slog.String("recorded_digest", rec.Digest))
		return nil
	}
	if err := h.tagger.TagRepository(ctx, ref, s); err != nil {
		return err
	}
	log.InfoContext(ctx, "repository tagged", slog.Time("scan_time", s.ScannedAt))
	return nil
}

// recordedImage is what the repository's labels show, as domain.CurrentImage
// takes it.
func recordedImage(rec ecrstore.RecordedScan) domain.ImageScan {
	return domain.ImageScan{Digest: domain.Digest(rec.Digest), ScannedAt: rec.ScannedAt}
}

// attach pushes the summary artifact for the image in the repository. The
// image is named by digest alone: the artifact is about the content, which
// keeps it whatever its tags (ECR's run to 300 characters), and no tag goes
// into its annotations or onto the repository, whose tag values stop at 256.
//
// An image no longer in the registry (deleted since its push) has nothing
// to attach to: that is logged and is no failure, since no retry can change
// it and the scan's result stands in the record and the archive.
func (h *Handler) attach(ctx context.Context, repo events.Repository, s ecrstore.ScanSummary) error {
	ref := domain.ImageRef{Account: repo.Account, Region: repo.Region, Repository: repo.Name, Digest: s.Digest}
	digest, err := h.referrers.PutSummary(ctx, ref, s)
	if errors.Is(err, domain.ErrNotFound) {
		h.logger.InfoContext(ctx, "image no longer in the registry; no scan summary attached",
			slog.String(attr.Repository, repo.Name),
			slog.String(attr.ImageDigest, s.Digest.String()),
			slog.String(attr.ScanID, s.ScanID),
			attr.Err(err))
		return nil
	}
	if err != nil {
		return err
	}
	h.logger.InfoContext(ctx, "scan summary attached",
		slog.String(attr.Repository, repo.Name),
		slog.String(attr.ImageDigest, s.Digest.String()),
		slog.String(attr.ScanID, s.ScanID),
		slog.String("referrer_digest", digest))
	return nil
}

// scanSummary takes what the writers record from the event. An
// ImageReferenced event carries the cached scan's summary and time.
func scanSummary(ev events.ScanEvent) (ecrstore.ScanSummary, error) {
	if ev.Summary == nil {
		return ecrstore.ScanSummary{}, fmt.Errorf("%w scan event: %s without a summary", domain.ErrInvalid, ev.EventType)
	}
	s := ecrstore.ScanSummary{
		Digest:          ev.Digest,
		ScanID:          ev.ScanID,
		ScannedAt:       ev.ScannedAt,
		QScannerVersion: ev.QScannerVersion,
		Platform:        ev.Platform,
		Summary:         *ev.Summary,
	}
	if err := s.Validate(); err != nil {
		return ecrstore.ScanSummary{}, err
	}
	return s, nil
}

// isPermanent: a repository or image that is gone, or input no retry can
// make acceptable.
func isPermanent(err error) bool {
	return err != nil && (errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrInvalid) || consume.IsPermanent(err))
}
