package consume_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
)

// reportsFunc streams the report f returns, as a store would.
type reportsFunc func(domain.ReportLocation) (*domain.Report, error)

func (f reportsFunc) WalkReport(_ context.Context, loc domain.ReportLocation, v domain.ReportVisitor) error {
	r, err := f(loc)
	if err != nil {
		return err
	}
	return r.Walk(v)
}

func TestWalkEventReportSortsFailures(t *testing.T) {
	ev := scanEvent(t, "evt-report")
	other := domain.Digest("sha256:" + "00000000000000000000000000000000000000000000000000000000000000ff")
	mine := func(domain.ReportLocation) (*domain.Report, error) {
		return &domain.Report{Digest: ev.Digest, Vulnerabilities: []domain.Vulnerability{{QID: "1"}}}, nil
	}
	tests := []struct {
		name      string
		reports   reportsFunc
		wantErr   string
		permanent bool
		findings  int
	}{
		{"the event's report", mine, "", false, 1},
		{"S3 unavailable is retried", func(domain.ReportLocation) (*domain.Report, error) { return nil, errors.New("503") }, "read report: 503", false, 0},
		{"an unreadable report is permanent", func(domain.ReportLocation) (*domain.Report, error) { return nil, domain.ErrInvalid }, "read report: invalid", true, 0},
		{"another image's report is permanent, before any finding", func(domain.ReportLocation) (*domain.Report, error) {
			return &domain.Report{Digest: other, Vulnerabilities: []domain.Vulnerability{{QID: "1"}}}, nil
		}, "is for " + string(other), true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			findings := 0
			err := consume.WalkEventReport(context.Background(), tc.reports, ev, domain.ReportVisitor{
				Vulnerability: func(domain.Vulnerability) error { findings++; return nil },
			})
			if (err != nil) != (tc.wantErr != "") || consume.IsPermanent(err) != tc.permanent || findings != tc.findings {
				t.Fatalf("WalkEventReport = %v after %d findings; want error %q, permanent %v, %d findings", err, findings, tc.wantErr, tc.permanent, tc.findings)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to say %q", err, tc.wantErr)
			}
		})
	}
	ev.Report = nil
	if err := consume.WalkEventReport(context.Background(), reportsFunc(mine), ev, domain.ReportVisitor{}); !consume.IsPermanent(err) || !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("no report pointer: %v; want a permanent ErrInvalid", err)
	}
}

// TestWalkEventReportReturnsTheVisitorsErrorAsItIs: a handler's own error
// (an effect that failed) is neither reclassified as a read failure nor made
// permanent, even when it wraps domain.ErrInvalid; a permanent one stays so.
func TestWalkEventReportReturnsTheVisitorsErrorAsItIs(t *testing.T) {
	ev := scanEvent(t, "evt-visitor")
	rep := reportsFunc(func(domain.ReportLocation) (*domain.Report, error) {
		return &domain.Report{Digest: ev.Digest, Secrets: []domain.Secret{{RuleID: "r"}}}, nil
	})
	for _, want := range []error{errors.New("throttled"), domain.ErrInvalid, consume.Permanent(errors.New("gone"))} {
		err := consume.WalkEventReport(context.Background(), rep, ev, domain.ReportVisitor{Secret: func(domain.Secret) error { return want }})
		if err != want {
			t.Errorf("error = %v, want %v itself", err, want)
		}
	}
	err := consume.WalkEventReport(context.Background(), rep, ev, domain.ReportVisitor{Head: func(domain.ReportHead) error { return domain.ErrStopWalk }})
	if err != nil {
		t.Errorf("stopped at the head: %v, want nil", err)
	}
}
