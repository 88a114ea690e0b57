package testkit_test

import (
	"context"
	"errors"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

func TestMemoryReportStore(t *testing.T) {
	ctx := context.Background()
	s := testkit.NewMemoryReportStore()
	rep := testkit.Report()
	loc, err := s.PutReport(ctx, "scan-1", rep)
	if err != nil || loc != testkit.ReportAt(rep.Digest, "scan-1") {
		t.Fatalf("PutReport = %v, %v; want %v", loc, err, testkit.ReportAt(rep.Digest, "scan-1"))
	}
	if again, err := s.PutReport(ctx, "scan-1", rep); err != nil || again != loc {
		t.Errorf("second PutReport = %v, %v; want the same location", again, err)
	}
	if got, err := s.GetReport(ctx, loc); err != nil || got != rep {
		t.Errorf("GetReport = %v, %v; want the stored report", got, err)
	}
	s.Put(loc, nil)
	if _, err := s.GetReport(ctx, loc); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("GetReport after Put(nil) = %v, want ErrNotFound", err)
	}
	denied := errors.New("AccessDenied")
	s.FailGet(denied)
	s.FailPut(denied)
	if _, err := s.GetReport(ctx, loc); err != denied {
		t.Errorf("GetReport after FailGet = %v, want %v itself", err, denied)
	}
	if _, err := s.PutReport(ctx, "scan-2", rep); err != denied {
		t.Errorf("PutReport after FailPut = %v, want %v itself", err, denied)
	}
	if n := s.Reads(); n != 3 {
		t.Errorf("Reads = %d, want 3", n)
	}
	ev := testkit.CompletedEvent(rep, testkit.MustRef(t, "team/app", "v1"))
	if got, err := testkit.SampleReports(rep).GetReport(ctx, *ev.Report); err != nil || got != rep {
		t.Errorf("SampleReports does not serve the report where the sample event points: %v, %v", got, err)
	}
}
