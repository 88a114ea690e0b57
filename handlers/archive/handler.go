package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/s3store"
)

// archiver stores archive documents.
type archiver interface {
	// PutReader stores the size bytes of body under key, replacing any
	// object there; it may seek body back to its start to retry. Idempotent
	// for the same key and body; an invalid key or body is an error wrapping
	// domain.ErrInvalid.
	PutReader(ctx context.Context, key string, body io.ReadSeeker, size int64) error
}

// Handler archives each scan result to S3, one object per repository the
// digest was pushed to, under s3store.ArchiveKey. The object for a
// (repository, scan) pair is a function of the event, so redeliveries and
// replays rewrite the same bytes.
type Handler struct {
	reports domain.ReportStreamer
	archive archiver
	logger  *slog.Logger
}

// NewHandler rejects missing dependencies at start-up.
func NewHandler(reports domain.ReportStreamer, archive archiver, logger *slog.Logger) (*Handler, error) {
	if reports == nil || archive == nil || logger == nil {
		return nil, errors.New("archive handler: reports, archive and logger are required")
	}
	return &Handler{reports: reports, archive: archive, logger: logger}, nil
}

// Handle archives ev's scan for each repository it targets: every known
// repository for ScanCompleted, the newly referenced one for ImageReferenced.
// ScanFailed has no result to archive. Errors that a retry cannot cure (a
// malformed event, a report for another digest) are consume.Permanent; the
// rest (S3 unavailable, the report not readable yet) are retried.
func (h *Handler) Handle(ctx context.Context, ev events.ScanEvent) error {
	log := h.logger.With(slog.String(attr.EventID, ev.EventID), slog.String(attr.ImageDigest, ev.Digest.String()), slog.String(attr.ScanID, ev.ScanID))
	switch ev.EventType {
	case domain.EventScanCompleted, domain.EventImageReferenced:
	case domain.EventScanFailed:
		log.InfoContext(ctx, "scan failed; nothing to archive", slog.String(attr.EventType, string(ev.EventType)))
		return nil
	default:
		return consume.Permanent(fmt.Errorf("archive %s: %w event type %q", ev.Digest, domain.ErrInvalid, ev.EventType))
	}
	if ev.Report == nil || ev.Summary == nil || ev.ScannedAt.IsZero() {
		return consume.Permanent(fmt.Errorf("archive %s: %w %s event: it needs a report pointer, a summary and a scan time", ev.Digest, domain.ErrInvalid, ev.EventType))
	}

	// The report is walked once, its findings encoded and compressed as
	// they come: only that is held, shared by every repository's object.
	var (
		head     domain.ReportHead
		findings findingsWriter
	)
	err := consume.WalkEventReport(ctx, h.reports, ev, domain.ReportVisitor{
		Head:          func(hd domain.ReportHead) error { head = hd; return nil },
		Vulnerability: findings.vulnerability,
		Secret:        findings.secret,
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", ev.Digest, err)
	}
	encoded := findings.close()

	for _, repo := range ev.Repositories() {
		// The key holds no tag, only repository (at most 256 bytes), digest
		// and time: about 360 bytes at most, within S3's 1,024 (Amazon S3
		// User Guide, "Naming Amazon S3 objects"), whatever the tags' length
		// (ECR's run to 300). The tags go whole into the document.
		key := s3store.ArchiveKey(repo.Name, ev.Digest, ev.ScannedAt)
		docHead, err := newDocument(ev, repo, head).encodeHead()
		if err != nil {
			return consume.Permanent(fmt.Errorf("archive %s: %w", ev.Digest, err))
		}
		body := newBody(plain(docHead), encoded, plain(documentEnd))
		if err := h.archive.PutReader(ctx, key, body, body.Len()); err != nil {
			err = fmt.Errorf("archive %s for %s: %w", ev.Digest, repo.Name, err)
			if errors.Is(err, domain.ErrInvalid) {
				return consume.Permanent(err)
			}
			// Objects already written are rewritten identically on retry.
			return err
		}
		log.InfoContext(ctx, "scan result archived",
			slog.String(attr.Repository, repo.Name),
			slog.String("s3_key", key),
			slog.Int64("bytes", body.Len()),
			slog.Int("vulnerabilities", findings.vulns),
			slog.Int("secrets", findings.secrets))
	}
	return nil
}
