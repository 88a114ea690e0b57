package consume_test

import (
	"context"
	"errors"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
)

type reportsFunc func(domain.ReportLocation) (*domain.Report, error)

func (f reportsFunc) GetReport(_ context.Context, loc domain.ReportLocation) (*domain.Report, error) {
	return f(loc)
}

func TestEventReportSortsFailures(t *testing.T) {
	ev := scanEvent(t, "evt-report")
	other := domain.Digest("sha256:" + "00000000000000000000000000000000000000000000000000000000000000ff")
	tests := []struct {
		name      string
		reports   reportsFunc
		wantErr   bool
		permanent bool
	}{
		{"the event's report", func(domain.ReportLocation) (*domain.Report, error) { return &domain.Report{Digest: ev.Digest}, nil }, false, false},
		{"S3 unavailable is retried", func(domain.ReportLocation) (*domain.Report, error) { return nil, errors.New("503") }, true, false},
		{"an unreadable report is permanent", func(domain.ReportLocation) (*domain.Report, error) { return nil, domain.ErrInvalid }, true, true},
		{"another image's report is permanent", func(domain.ReportLocation) (*domain.Report, error) { return &domain.Report{Digest: other}, nil }, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := consume.EventReport(context.Background(), tc.reports, ev)
			if (err != nil) != tc.wantErr || consume.IsPermanent(err) != tc.permanent {
				t.Fatalf("EventReport = %v, %v; want error %v, permanent %v", rep, err, tc.wantErr, tc.permanent)
			}
		})
	}
	ev.Report = nil
	if _, err := consume.EventReport(context.Background(), tests[0].reports, ev); !consume.IsPermanent(err) {
		t.Errorf("no report pointer: %v; want a permanent error", err)
	}
}
