package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ecrscanner/domain"
)

// scanQueueID is the template's scan queue: pushes, rescans, backfills and
// manual rescans all enter there.
const scanQueueID = "ScanQueue"

// awaitScan polls the digest's record until it shows a scan that started
// at or after notBefore and is done (done) or at least claimed (!done).
func awaitScan(ctx context.Context, store domain.ScanStore, d domain.Digest, notBefore time.Time, done bool, timeout time.Duration) (*domain.Scan, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := store.Get(ctx, d)
		switch {
		case err == nil && !s.StartedAt().Before(notBefore) && (!done || s.Status() != domain.StatusScanning):
			return s, nil
		case err != nil && !errors.Is(err, domain.ErrNotFound) && ctx.Err() == nil:
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: no scan started at or after %s within %v", d, notBefore.UTC().Format(time.RFC3339), timeout)
		case <-tick.C:
		}
	}
}

// describeChanges is a rescan's difference in one line.
func describeChanges(c *domain.ScanDiff) string {
	if c == nil {
		return "no comparison with a previous scan"
	}
	return fmt.Sprintf("since scan %s: new %s (%d secrets), fixed %s", short(c.PreviousScanID), countsLine(c.NewVulnerabilities), c.NewSecrets, countsLine(c.FixedVuln))
}

func countsLine(c domain.Counts) string {
	return fmt.Sprintf("%d [critical %d, high %d, medium %d, low %d, info %d]", c.Total(), c.Critical, c.High, c.Medium, c.Low, c.Informational)
}
