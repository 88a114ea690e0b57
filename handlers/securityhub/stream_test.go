package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

// importAll runs importReport on rep as the image of testImage, with the
// hub holding existing, and returns what it imported in each call.
func importAll(t *testing.T, reports domain.ReportStreamer, rep *domain.Report, existing []securityhubstore.Finding) (imported, [][]securityhubstore.Finding, error) {
	t.Helper()
	env := newTestEnv(t)
	h, err := NewHandler(reports, env.hub, env.tags, testProductOf(t), env.h.logger)
	if err != nil {
		t.Fatal(err)
	}
	ev := testkit.CompletedEvent(rep, testkit.MustRef(t, "team/app", "v1"))
	res, err := h.importReport(context.Background(), ev, testImage(t), existing, testkit.ScannedAt, &qidCounts{}, suppressor{})
	return res, env.hub.imports, err
}

func byID(fs []securityhubstore.Finding) []securityhubstore.Finding {
	out := append([]securityhubstore.Finding(nil), fs...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// farRepeats lists n vulnerabilities, each QID twice, the second entries
// after all the first ones: the most a walk has to hold merged.
func farRepeats(n int) *domain.Report {
	rep := testkit.LargeReport(n)
	for i := range n {
		again := rep.Vulnerabilities[i]
		again.Severity = domain.SeverityCritical
		again.CVEs = []string{fmt.Sprintf("CVE-2025-%05d", i)}
		rep.Vulnerabilities = append(rep.Vulnerabilities, again)
	}
	return rep
}

// TestImportReportImportsWhatFindingsOfMaps: walking the report imports
// exactly findingsOf's findings (repeated QIDs merged, repeated secrets
// once), in batches of at most securityhubstore.MaxBatch.
func TestImportReportImportsWhatFindingsOfMaps(t *testing.T) {
	for name, rep := range map[string]*domain.Report{
		"messy":                      messyReport(),
		"several batches":            testkit.LargeReport(2*securityhubstore.MaxBatch + 17),
		"repeats far apart":          farRepeats(150),
		"clean":                      {Digest: testkit.Digest},
		"secrets only, one repeated": {Digest: testkit.Digest, Secrets: append(messyReport().Secrets, messyReport().Secrets...)},
	} {
		t.Run(name, func(t *testing.T) {
			res, calls, err := importAll(t, testkit.SampleReports(rep), rep, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []securityhubstore.Finding
			for i, c := range calls {
				if len(c) > securityhubstore.MaxBatch || (i < len(calls)-1 && len(c) != securityhubstore.MaxBatch) {
					t.Errorf("import %d of %d holds %d findings", i+1, len(calls), len(c))
				}
				got = append(got, c...)
			}
			want := findingsOf(testImage(t), rep)
			if !reflect.DeepEqual(byID(got), byID(want)) {
				t.Errorf("imported %d findings, findingsOf maps %d; they differ", len(got), len(want))
			}
			if res.findings != len(want) || res.vulns != len(rep.Vulnerabilities) || res.secrets != len(rep.Secrets) || len(res.seen) != 0 {
				t.Errorf("result %+v, want %d findings of %d vulnerabilities and %d secrets, none seen before", res, len(want), len(rep.Vulnerabilities), len(rep.Secrets))
			}
		})
	}
}

// TestImportReportCarriesFirstSeenOver: a finding Security Hub holds keeps
// its first sighting in whichever batch its successor goes, and is counted
// as seen; one dated after this observation does not.
func TestImportReportCarriesFirstSeenOver(t *testing.T) {
	rep := testkit.LargeReport(3 * securityhubstore.MaxBatch)
	current := findingsOf(testImage(t), rep)
	early := testkit.ScannedAt.Add(-72 * time.Hour)
	old := current[250]
	old.CreatedAt, old.FirstObservedAt = early, early
	future := current[10]
	future.CreatedAt = testkit.ScannedAt.Add(time.Hour)
	res, calls, err := importAll(t, testkit.SampleReports(rep), rep, []securityhubstore.Finding{old, future})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]securityhubstore.Finding{}
	for _, c := range calls {
		for _, f := range c {
			got[f.ID] = f
		}
	}
	if f := got[old.ID]; !f.CreatedAt.Equal(early) || !f.FirstObservedAt.Equal(early) {
		t.Errorf("%s: created %v, first observed %v; want both %v", old.ID, f.CreatedAt, f.FirstObservedAt, early)
	}
	if f := got[future.ID]; f.CreatedAt.Equal(future.CreatedAt) {
		t.Errorf("%s took a first sighting later than this observation", future.ID)
	}
	if want := map[string]bool{old.ID: true, future.ID: true}; !reflect.DeepEqual(res.seen, want) {
		t.Errorf("seen %v, want %v", res.seen, want)
	}
}

// TestImportReportRefusesManyRepeatedQIDs: past maxRepeatedEntries entries
// of repeated QIDs, the report is refused for good before anything is
// imported.
func TestImportReportRefusesManyRepeatedQIDs(t *testing.T) {
	rep := &domain.Report{Digest: testkit.Digest}
	for range maxRepeatedEntries + 1 {
		rep.Vulnerabilities = append(rep.Vulnerabilities, domain.Vulnerability{QID: "7", Severity: domain.SeverityLow})
	}
	_, calls, err := importAll(t, testkit.SampleReports(rep), rep, nil)
	if !consume.IsPermanent(err) || !errors.Is(err, domain.ErrInvalid) || len(calls) != 0 {
		t.Fatalf("error = %v after %d imports; want a permanent ErrInvalid before any", err, len(calls))
	}
	if want := fmt.Sprintf("more than %d entries of QIDs listed more than once (QID \"7\")", maxRepeatedEntries); !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to say %q", err, want)
	}
}

// changingReports hands out a different report on each walk.
type changingReports struct{ walks []*domain.Report }

func (c *changingReports) WalkReport(_ context.Context, _ domain.ReportLocation, v domain.ReportVisitor) error {
	r := c.walks[0]
	c.walks = c.walks[1:]
	return r.Walk(v)
}

// TestImportReportNoticesAChangedReport: a report that reads differently on
// the second walk is retried, not imported half-merged.
func TestImportReportNoticesAChangedReport(t *testing.T) {
	once := &domain.Report{Digest: testkit.Digest, Vulnerabilities: []domain.Vulnerability{{QID: "1"}, {QID: "2"}}}
	twice := &domain.Report{Digest: testkit.Digest, Vulnerabilities: []domain.Vulnerability{{QID: "1"}, {QID: "2"}, {QID: "2"}}}
	for name, walks := range map[string][]*domain.Report{
		"an entry more": {once, twice},
		"an entry less": {twice, once},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := importAll(t, &changingReports{walks: walks}, walks[0], nil)
			if !errors.Is(err, errReportChanged) || consume.IsPermanent(err) {
				t.Fatalf("error = %v, want errReportChanged, retried", err)
			}
		})
	}
}
