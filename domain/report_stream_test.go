package domain_test

import (
	"errors"
	"reflect"
	"testing"

	"ecrscanner/domain"
)

func walkSample() *domain.Report {
	return &domain.Report{
		Digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Platform: "linux/amd64", OS: "debian 12",
		QScannerVersion: "4.8.0", ScanTypes: []string{"pkg"}, Partial: true,
		Vulnerabilities: []domain.Vulnerability{{QID: "1", Severity: domain.SeverityHigh}, {QID: "2"}},
		Secrets:         []domain.Secret{{RuleID: "r", File: "f"}},
	}
}

// TestReportWalkVisitsInOrder: head, then each vulnerability, then each
// secret; a nil func skips its part.
func TestReportWalkVisitsInOrder(t *testing.T) {
	r := walkSample()
	var got []string
	err := r.Walk(domain.ReportVisitor{
		Head: func(h domain.ReportHead) error {
			if !reflect.DeepEqual(h, r.Head()) || h.OS != "debian 12" || !h.Partial {
				t.Errorf("head = %+v", h)
			}
			got = append(got, "head")
			return nil
		},
		Vulnerability: func(v domain.Vulnerability) error { got = append(got, "vuln "+v.QID); return nil },
		Secret:        func(s domain.Secret) error { got = append(got, "secret "+s.RuleID); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"head", "vuln 1", "vuln 2", "secret r"}; !reflect.DeepEqual(got, want) {
		t.Errorf("visited %v, want %v", got, want)
	}

	got = nil
	if err := r.Walk(domain.ReportVisitor{Secret: func(s domain.Secret) error { got = append(got, s.RuleID); return nil }}); err != nil || len(got) != 1 {
		t.Errorf("secrets only: %v, %v", got, err)
	}
}

// TestReportWalkStops: a visitor's error ends the walk and is returned;
// ErrStopWalk ends it with none.
func TestReportWalkStops(t *testing.T) {
	r := walkSample()
	boom := errors.New("boom")
	n := 0
	err := r.Walk(domain.ReportVisitor{Vulnerability: func(domain.Vulnerability) error { n++; return boom }, Secret: func(domain.Secret) error { n++; return nil }})
	if err != boom || n != 1 {
		t.Errorf("error = %v after %d findings, want boom after 1", err, n)
	}
	n = 0
	err = r.Walk(domain.ReportVisitor{Head: func(domain.ReportHead) error { return domain.ErrStopWalk }, Vulnerability: func(domain.Vulnerability) error { n++; return nil }})
	if err != nil || n != 0 {
		t.Errorf("error = %v after %d findings, want nil after 0", err, n)
	}
}
