package testkit

import (
	"context"
	"sync"

	"ecrscanner/domain"
)

// MemoryReportStore is the in-memory domain.ReportStore: reports by
// location, PutReport writing where the scan function's store would
// (ReportAt). It counts reads and fails on demand, for tests of the
// functions that read reports. Safe for concurrent use.
type MemoryReportStore struct {
	mu             sync.Mutex
	reports        map[domain.ReportLocation]*domain.Report
	reads          int
	putErr, getErr error
}

var (
	_ domain.ReportStore    = (*MemoryReportStore)(nil)
	_ domain.ReportStreamer = (*MemoryReportStore)(nil)
)

// NewMemoryReportStore returns an empty store.
func NewMemoryReportStore() *MemoryReportStore {
	return &MemoryReportStore{reports: map[domain.ReportLocation]*domain.Report{}}
}

// SampleReports returns a store that holds rep where the sample scan's
// events point, ReportAt(Digest, ScanID), whatever rep's own digest: a test
// may point an event at a report that does not match it.
func SampleReports(rep *domain.Report) *MemoryReportStore {
	m := NewMemoryReportStore()
	m.Put(ReportAt(Digest, ScanID), rep)
	return m
}

// Put stores rep at loc, whatever its digest; a nil rep removes what is
// there.
func (m *MemoryReportStore) Put(loc domain.ReportLocation, rep *domain.Report) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rep == nil {
		delete(m.reports, loc)
		return
	}
	m.reports[loc] = rep
}

// PutReport implements domain.ReportStore. Idempotent for the same scanID.
func (m *MemoryReportStore) PutReport(_ context.Context, scanID string, r *domain.Report) (domain.ReportLocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.putErr != nil {
		return domain.ReportLocation{}, m.putErr
	}
	loc := ReportAt(r.Digest, scanID)
	m.reports[loc] = r
	return loc, nil
}

// GetReport implements domain.ReportStore; a location nothing was stored at
// is domain.ErrNotFound.
func (m *MemoryReportStore) GetReport(_ context.Context, loc domain.ReportLocation) (*domain.Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.getErr != nil {
		return nil, m.getErr
	}
	r, ok := m.reports[loc]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return r, nil
}

// WalkReport implements domain.ReportStreamer over the stored report, with
// GetReport's errors; it counts as a read.
func (m *MemoryReportStore) WalkReport(ctx context.Context, loc domain.ReportLocation, v domain.ReportVisitor) error {
	r, err := m.GetReport(ctx, loc)
	if err != nil {
		return err
	}
	return r.Walk(v)
}

// Reads counts GetReport and WalkReport calls, failed ones included.
func (m *MemoryReportStore) Reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

// FailPut makes every later PutReport return err itself and store nothing.
func (m *MemoryReportStore) FailPut(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putErr = err
}

// FailGet makes every later GetReport return err itself, as when the bucket
// cannot be read or the report is refused.
func (m *MemoryReportStore) FailGet(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.getErr = err
}
