package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"ecrscanner/domain"
)

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
