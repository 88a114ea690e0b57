package main

import (
	"context"
	"errors"
	"log/slog"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
)

// reportStore keeps reports and finds the one an earlier attempt of a scan
// stored (infra/s3store.Reports; testkit.MemoryReportStore in tests).
type reportStore interface {
	domain.ReportStore
	domain.ReportStreamer // to compare a rescan with the previous report
	// FindReport reads the report stored for scanID of digest d, and where
	// it is; an error wrapping domain.ErrNotFound when there is none.
	FindReport(ctx context.Context, d domain.Digest, scanID string) (*domain.Report, domain.ReportLocation, error)
}

// failedReportID is the ID a failed scan's report (a partial one, or the
// full report of a scan QScanner's policy denied) is stored under: never
// the scan's own ID, which only a completed scan's report uses and a
// takeover looks for.
func failedReportID(scanID string) string { return scanID + "-failed" }

// recordEarlierReport records, instead of running QScanner, the complete
// report an attempt a took over stored before it died between the upload
// and the record write (or failed both that write and the release). ok is
// false when there is none to record: no earlier attempt, no report under
// its scan ID (a failure's report is stored apart, see failedReportID), a
// partial one, or a read that failed (QScanner then runs, as it would have
// anyway).
func (h *Handler) recordEarlierReport(ctx context.Context, a *attempt) (Outcome, bool, error) {
	if a.earlier == "" {
		return "", false, nil
	}
	report, loc, err := h.reports.FindReport(ctx, a.ref.Digest, a.earlier)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return "", false, nil
	case err != nil:
		a.log.WarnContext(ctx, "earlier attempt's report not readable; scanning", slog.String("earlier_scan_id", a.earlier), attr.Err(err))
		return "", false, nil
	case report.Partial:
		return "", false, nil
	}
	a.log.InfoContext(ctx, "recording the report an earlier attempt stored before it died; QScanner not run again", slog.String("earlier_scan_id", a.earlier))
	out, err := h.recordReport(ctx, a, report, loc, -1)
	return out, true, err
}
