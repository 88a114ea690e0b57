package testkit_test

import (
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

func TestMemoryScanStore(t *testing.T) {
	testkit.TestScanStore(t, func(*testing.T) domain.ScanStore { return testkit.NewMemoryScanStore() })
}

func TestMemoryIdempotencyStore(t *testing.T) {
	testkit.TestIdempotencyStore(t, func(_ *testing.T, now func() time.Time) func() domain.IdempotencyStore {
		root := testkit.NewMemoryIdempotencyStore(now)
		return func() domain.IdempotencyStore { return root.Peer() }
	})
}
