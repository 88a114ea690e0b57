package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"ecrscanner/domain"
)

// memStore is an in-memory domain.ScanStore with the same optimistic
// concurrency contract as the DynamoDB store.
type memStore struct {
	mu      sync.Mutex
	records map[domain.Digest]domain.ScanRecord
	writes  int
}

func newMemStore() *memStore { return &memStore{records: map[domain.Digest]domain.ScanRecord{}} }

func (m *memStore) Get(_ context.Context, d domain.Digest) (*domain.Scan, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[d]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return domain.ScanFromRecord(r), nil
}

func (m *memStore) Update(ctx context.Context, d domain.Digest, fn func(*domain.Scan) error) error {
	for {
		s, err := m.Get(ctx, d)
		if errors.Is(err, domain.ErrNotFound) {
			s = domain.NewScan(d)
		}
		read := s.Version()
		if err := fn(s); err != nil {
			return err
		}
		rec := s.Record()
		m.mu.Lock()
		if m.records[d].Version == read {
			rec.Version = read + 1
			m.records[d] = rec
			m.writes++
			m.mu.Unlock()
			return nil
		}
		m.mu.Unlock() // lost the race: re-read and re-apply
	}
}

func (m *memStore) record(d domain.Digest) domain.ScanRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records[d]
}

type memReports struct {
	mu      sync.Mutex
	reports map[string]*domain.Report
	fail    error
}

func (m *memReports) PutReport(_ context.Context, scanID string, r *domain.Report) (domain.ReportLocation, error) {
	if m.fail != nil {
		return domain.ReportLocation{}, m.fail
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reports == nil {
		m.reports = map[string]*domain.Report{}
	}
	key := fmt.Sprintf("reports/%s/%s.json.gz", r.Digest.Hex(), scanID)
	m.reports[key] = r
	return domain.ReportLocation{Bucket: "results", Key: key}, nil
}

func (m *memReports) GetReport(_ context.Context, loc domain.ReportLocation) (*domain.Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reports[loc.Key]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return r, nil
}

type fakeInspector struct {
	info domain.ImageInfo
	err  error
}

func (f fakeInspector) Inspect(context.Context, domain.ImageRef) (domain.ImageInfo, error) {
	return f.info, f.err
}

// fakeScanner counts runs and answers with a fixed report or error. If gate
// is set, each run waits for it to close first.
type fakeScanner struct {
	runs      atomic.Int32
	report    *domain.Report
	err       error
	gate      chan struct{}
	platforms chan string
}

func (f *fakeScanner) Scan(_ context.Context, t domain.ScanTarget) (*domain.Report, error) {
	f.runs.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if f.platforms != nil {
		f.platforms <- t.Platform
	}
	if f.report == nil {
		return nil, f.err
	}
	r := *f.report
	r.Digest = t.Ref.Digest
	return &r, f.err
}
