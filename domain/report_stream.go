package domain

import (
	"context"
	"errors"
)

// ReportHead is a report without its findings: what a consumer needs before
// it walks them.
type ReportHead struct {
	Digest          Digest
	Platform        string
	OS              string
	QScannerVersion string
	ScanTypes       []string
	Partial         bool
}

// Head is r's head.
func (r *Report) Head() ReportHead {
	return ReportHead{Digest: r.Digest, Platform: r.Platform, OS: r.OS, QScannerVersion: r.QScannerVersion, ScanTypes: r.ScanTypes, Partial: r.Partial}
}

// ReportVisitor receives the parts of one report in order: Head once,
// before any finding, then each vulnerability, then each secret. A nil func
// skips that part (it is still read, so a corrupt report is still refused).
// An error a func returns stops the walk and comes back from it, wrapped
// (errors.Is and errors.As see it); ErrStopWalk stops it without an error.
type ReportVisitor struct {
	Head          func(ReportHead) error
	Vulnerability func(Vulnerability) error
	Secret        func(Secret) error
}

// ErrStopWalk, returned by a ReportVisitor func, ends a walk early without
// an error: for a consumer that needs only the head, or the first few
// findings. The rest of the report is then not read (nor checked).
var ErrStopWalk = errors.New("stop walking the report")

// ReportStreamer walks the reports that scan records and events point at
// one finding at a time, so that a consumer of a report of any size holds
// only what it keeps. Safe for concurrent use.
type ReportStreamer interface {
	// WalkReport reads the report at loc, in any bucket the caller can
	// read, and hands its parts to v as it reads them. The errors are
	// GetReport's: a missing report wraps ErrNotFound; a bad location, or
	// an unreadable or oversized report, ErrInvalid. A report found corrupt
	// part way is refused after v has seen its first findings: v must not
	// take them for the whole report before the walk returns nil.
	WalkReport(ctx context.Context, loc ReportLocation, v ReportVisitor) error
}

// Walk hands r's parts to v as a ReportStreamer would, for reports already
// in memory. The findings share their slices with r: v must not change them.
func (r *Report) Walk(v ReportVisitor) error {
	err := r.walk(v)
	if errors.Is(err, ErrStopWalk) {
		return nil
	}
	return err
}

func (r *Report) walk(v ReportVisitor) error {
	if v.Head != nil {
		if err := v.Head(r.Head()); err != nil {
			return err
		}
	}
	if v.Vulnerability != nil {
		for _, f := range r.Vulnerabilities {
			if err := v.Vulnerability(f); err != nil {
				return err
			}
		}
	}
	if v.Secret != nil {
		for _, s := range r.Secrets {
			if err := v.Secret(s); err != nil {
				return err
			}
		}
	}
	return nil
}
