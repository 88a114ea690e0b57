package s3store

import (
	"context"
	"fmt"

	"ecrscanner/domain"
)

// FindReport reads the report PutReport stored for scanID of digest d, and
// where it is: how a scan that took over from an attempt that died after
// its upload finds that attempt's result. None is an error wrapping
// domain.ErrNotFound.
func (s *Reports) FindReport(ctx context.Context, d domain.Digest, scanID string) (*domain.Report, domain.ReportLocation, error) {
	if !scanIDRE.MatchString(scanID) || scanID == "." || scanID == ".." {
		return nil, domain.ReportLocation{}, fmt.Errorf("find report for %s: %w scan ID %q", d, domain.ErrInvalid, scanID)
	}
	loc := domain.ReportLocation{Bucket: s.bucket, Key: ReportKey(d, scanID)}
	r, err := s.GetReport(ctx, loc)
	if err != nil {
		return nil, domain.ReportLocation{}, err
	}
	return r, loc, nil
}
