package testkit

import (
	"context"

	"ecrscanner/domain"
)

// FindReport reads the report PutReport stored for scanID of d, as
// s3store.Reports does; domain.ErrNotFound when there is none.
func (m *MemoryReportStore) FindReport(ctx context.Context, d domain.Digest, scanID string) (*domain.Report, domain.ReportLocation, error) {
	loc := ReportAt(d, scanID)
	r, err := m.GetReport(ctx, loc)
	if err != nil {
		return nil, domain.ReportLocation{}, err
	}
	return r, loc, nil
}
