package main

import (
	"context"
	"log/slog"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/attr"
)

// originOf is what asked for req's scan, as the claim takes it.
func originOf(req events.ScanRequest) domain.Origin {
	return domain.Origin{Cause: req.Cause.OrPush(), RequestedBy: req.RequestedBy, NotBefore: req.NotBefore}
}

// previousOf is the completed scan that the record's current one replaced,
// if any: what a rescan's result is compared with.
func previousOf(s *domain.Scan) *domain.PreviousScan {
	p, ok := s.Previous()
	if !ok || p.Report == nil {
		return nil
	}
	return &p
}

// changes compares report with the previous scan's report, walked from S3
// one finding at a time (reports can hold 100,000 findings). A previous
// report that cannot be read leaves the difference out, with a warning:
// the scan's own result still stands, and the alert handler then judges
// the whole result as it would a first scan's.
func (h *Handler) changes(ctx context.Context, a *attempt, report *domain.Report) *domain.ScanDiff {
	if a.previous == nil || a.previous.ScanID == a.scanID {
		return nil
	}
	d := domain.NewDiffer(*a.previous, report)
	if err := h.reports.WalkReport(ctx, *a.previous.Report, d.Visitor()); err != nil {
		a.log.WarnContext(ctx, "previous report not readable; the rescan's changes are not computed",
			slog.String("previous_scan_id", a.previous.ScanID), attr.Err(err))
		return nil
	}
	diff := d.Diff()
	a.log.InfoContext(ctx, "compared with the previous scan",
		slog.String("previous_scan_id", diff.PreviousScanID),
		slog.Int("new_vulnerabilities", diff.NewVulnerabilities.Total()),
		slog.Int("fixed_vulnerabilities", diff.FixedVuln.Total()),
		slog.Int("new_secrets", diff.NewSecrets))
	return &diff
}

// freshEnough drops a platform image's scan that a forced request does not
// accept (it started before the request's NotBefore): a forced rescan of an
// index must run QScanner, not reuse the scan it was asked to redo.
func freshEnough(platformImage *domain.Scan, origin domain.Origin) *domain.Scan {
	if platformImage == nil || origin.NotBefore.IsZero() || !platformImage.StartedAt().Before(origin.NotBefore) {
		return platformImage
	}
	return nil
}
