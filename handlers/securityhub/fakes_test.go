package main

import (
	"bytes"
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

const testProduct = "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"

func testProductOf(t *testing.T) securityhubstore.Product {
	t.Helper()
	p, err := securityhubstore.ParseProductARN(testProduct)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeHub is a hand-written findingStore that keeps findings in memory the
// way Security Hub does for a finding provider: an import creates or replaces
// a finding by Id, but ignores an update older than the stored finding and
// the Workflow of an existing one, and resets RESOLVED or NOTIFIED to NEW
// when an archived finding becomes active again. Nothing changes the
// workflow of an existing finding: that is the customer's (BatchUpdateFindings,
// which the handler does not call).
type fakeHub struct {
	mu       sync.Mutex
	findings map[string]securityhubstore.Finding

	imports  [][]securityhubstore.Finding // every Import call, in order
	reads    []string                     // the prefix of every Findings call
	archived []string                     // the IDs an import moved from ACTIVE to ARCHIVED, in order

	findingsErr, importErr error
	workflowCalls          int
	// archiveErr fails an import that archives a finding.
	archiveErr error
}

func newFakeHub() *fakeHub { return &fakeHub{findings: map[string]securityhubstore.Finding{}} }

func (h *fakeHub) Findings(_ context.Context, prefix string) ([]securityhubstore.Finding, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads = append(h.reads, prefix)
	if h.findingsErr != nil {
		return nil, h.findingsErr
	}
	var out []securityhubstore.Finding
	for id, f := range h.findings {
		if strings.HasPrefix(id, prefix) {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (h *fakeHub) Import(_ context.Context, findings []securityhubstore.Finding) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.importErr != nil {
		return h.importErr
	}
	for _, f := range findings {
		if err := securityhubstore.Validate(f); err != nil {
			return err
		}
		if h.archiveErr != nil && f.RecordState == securityhubstore.RecordStateArchived {
			return h.archiveErr
		}
	}
	h.imports = append(h.imports, append([]securityhubstore.Finding(nil), findings...))
	for _, f := range findings {
		old, ok := h.findings[f.ID]
		if ok {
			if f.UpdatedAt.Before(old.UpdatedAt) {
				continue
			}
			f.Workflow, f.Note = old.Workflow, old.Note
			if old.RecordState == securityhubstore.RecordStateActive && f.RecordState == securityhubstore.RecordStateArchived {
				h.archived = append(h.archived, f.ID)
			}
			if old.RecordState == securityhubstore.RecordStateArchived && f.RecordState == securityhubstore.RecordStateActive &&
				(old.Workflow.Status == securityhubstore.WorkflowResolved || old.Workflow.Status == securityhubstore.WorkflowNotified) {
				f.Workflow.Status = securityhubstore.WorkflowNew
			}
		}
		h.findings[f.ID] = f
	}
	return nil
}

// snapshot copies the stored findings, for comparisons.
func (h *fakeHub) snapshot() map[string]securityhubstore.Finding {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]securityhubstore.Finding, len(h.findings))
	for k, v := range h.findings {
		out[k] = v
	}
	return out
}

func (h *fakeHub) get(t *testing.T, id string) securityhubstore.Finding {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.findings[id]
	if !ok {
		var ids []string
		for k := range h.findings {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		t.Fatalf("no finding %s; have %v", id, ids)
	}
	return f
}

func (h *fakeHub) importCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.imports)
}

// fakeTags answers which tags point at a digest, as ECR would. A digest it
// was not told about is still tagged: images are pushed with tags.
type fakeTags struct {
	mu       sync.Mutex
	untagged map[domain.Digest]bool
	err      error
	asked    []domain.ImageRef
}

func newFakeTags() *fakeTags { return &fakeTags{untagged: map[domain.Digest]bool{}} }

func (f *fakeTags) TagsOf(_ context.Context, ref domain.ImageRef) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, ref)
	if f.err != nil {
		return nil, f.err
	}
	if f.untagged[ref.Digest] {
		return nil, nil
	}
	return []string{"still-tagged"}, nil
}

// untag removes every tag that points at d.
func (f *fakeTags) untag(d domain.Digest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.untagged[d] = true
}

type testEnv struct {
	h       *Handler
	hub     *fakeHub
	tags    *fakeTags
	reports *testkit.MemoryReportStore
	logs    *bytes.Buffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	env := &testEnv{hub: newFakeHub(), tags: newFakeTags(), reports: testkit.NewMemoryReportStore(), logs: &bytes.Buffer{}}
	h, err := NewHandler(env.reports, env.hub, env.tags, testProductOf(t), slog.New(slog.NewJSONHandler(env.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	env.h = h
	return env
}

// handle stores rep where ev points and handles ev.
func (e *testEnv) handle(t *testing.T, ev events.ScanEvent, rep *domain.Report) error {
	t.Helper()
	e.reports.Put(*ev.Report, rep)
	return e.h.Handle(context.Background(), ev)
}

// vulnID is the Id of a vulnerability of testkit.Digest in repository.
func vulnID(repository, qid string) string { return vulnIDOf(repository, testkit.Digest, qid) }

func vulnIDOf(repository string, d domain.Digest, qid string) string {
	return imagePrefix(testkit.Account, testkit.Region, repository, d) + "vuln:" + qid
}

// secretID is the Id of a secret of testkit.Digest in repository.
func secretID(repository string, s domain.Secret) string {
	return imagePrefix(testkit.Account, testkit.Region, repository, testkit.Digest) + "secret:" + secretKey(s)
}
