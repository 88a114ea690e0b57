package main

import (
	"context"
	"sync/atomic"

	"ecrscanner/domain"
)

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
