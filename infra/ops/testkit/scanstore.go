package testkit

import (
	"context"
	"errors"
	"sync"

	"ecrscanner/domain"
)

// MemoryScanStore is the in-memory domain.ScanStore: one record per digest,
// written with the optimistic concurrency the port promises (a write lands
// only if the record is still the version it was read at, otherwise fn runs
// again on a fresh read). It passes TestScanStore, like the DynamoDB store.
// Safe for concurrent use.
type MemoryScanStore struct {
	mu      sync.Mutex
	records map[domain.Digest]domain.ScanRecord
	writes  []domain.ScanRecord
	// loseReply makes the next write that lands report a conflict.
	loseReply bool
	// failWrites writes from now on fail with failErr without landing.
	failWrites int
	failErr    error
}

var _ domain.ScanStore = (*MemoryScanStore)(nil)

// NewMemoryScanStore returns an empty store.
func NewMemoryScanStore() *MemoryScanStore {
	return &MemoryScanStore{records: map[domain.Digest]domain.ScanRecord{}}
}

// Get implements domain.ScanStore.
func (m *MemoryScanStore) Get(_ context.Context, d domain.Digest) (*domain.Scan, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[d]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return domain.ScanFromRecord(r), nil
}

// Update implements domain.ScanStore. fn runs without the store's lock, so it
// may itself call the store (as another writer slipping in would).
func (m *MemoryScanStore) Update(ctx context.Context, d domain.Digest, fn func(*domain.Scan) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := m.Get(ctx, d)
		if errors.Is(err, domain.ErrNotFound) {
			s = domain.NewScan(d)
		} else if err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
		if err := m.failWrite(); err != nil {
			return err
		}
		if m.put(s) {
			return nil
		}
	}
}

// put is the conditional write: absent for a new scan, otherwise still at
// the version s was read at.
func (m *MemoryScanStore) put(s *domain.Scan) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.records[s.Digest()]
	if ok && cur.Version != s.Version() || !ok && !s.IsNew() {
		return false
	}
	rec := s.Record()
	m.records[s.Digest()] = rec
	m.writes = append(m.writes, rec)
	if m.loseReply {
		m.loseReply = false
		return false
	}
	return true
}

// Record is the stored record of d; the zero record (version 0) when there
// is none.
func (m *MemoryScanStore) Record(d domain.Digest) domain.ScanRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records[d]
}

// Writes lists every record written, in order, across digests.
func (m *MemoryScanStore) Writes() []domain.ScanRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]domain.ScanRecord(nil), m.writes...)
}

// LoseNextReply makes the next write that lands report a conflict, as when a
// conditional write succeeded, its answer was lost and the retry of the same
// request failed its condition: Update re-reads and applies fn once more.
func (m *MemoryScanStore) LoseNextReply() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loseReply = true
}

// FailNextWrites makes the next n writes fail with err and land nothing, as
// a throttled or refused conditional write does (a
// ProvisionedThroughputExceededException, an item over 400 KB). A write is
// what Update would put after fn succeeded; an fn error is no write.
func (m *MemoryScanStore) FailNextWrites(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failWrites, m.failErr = n, err
}

// failWrite is the error the next write fails with, if FailNextWrites armed
// one.
func (m *MemoryScanStore) failWrite() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failWrites <= 0 {
		return nil
	}
	m.failWrites--
	return m.failErr
}
