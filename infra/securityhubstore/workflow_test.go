package securityhubstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"ecrscanner/domain"
)

// BatchUpdateFindings records the call; the Ids in failIDs come back
// unprocessed, as Security Hub reports them.

func (f *fakeAPI) BatchUpdateFindings(_ context.Context, in *securityhub.BatchUpdateFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, in)
	out := &securityhub.BatchUpdateFindingsOutput{}
	for _, id := range in.FindingIdentifiers {
		if f.failIDs[aws.ToString(id.Id)] {
			out.UnprocessedFindings = append(out.UnprocessedFindings, types.BatchUpdateFindingsUnprocessedFinding{FindingIdentifier: &id, ErrorCode: aws.String("FindingNotFound"), ErrorMessage: aws.String("no such finding")})
		}
	}
	return out, nil
}

func TestSetWorkflowBatchesAndReportsUnprocessed(t *testing.T) {
	api := &fakeAPI{failIDs: map[string]bool{"id-150": true}}
	hub := newTestHub(t, api)
	var ids []string
	for i := range 250 {
		ids = append(ids, fmt.Sprintf("id-%d", i))
	}
	note := Note{Text: "accepted until 2026-12-31: never loaded", UpdatedBy: "ecr-image-scanner suppression sup-1"}
	err := hub.SetWorkflow(context.Background(), ids, WorkflowSuppressed, note)
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Failed) != 1 || ie.Failed[0].ID != "id-150" {
		t.Fatalf("err = %v, want one unprocessed finding id-150", err)
	}
	if len(api.updates) != 3 || len(api.updates[0].FindingIdentifiers) != MaxBatch || len(api.updates[2].FindingIdentifiers) != 50 {
		t.Fatalf("%d calls, want batches of 100, 100, 50", len(api.updates))
	}
	u := api.updates[0]
	if u.Workflow.Status != types.WorkflowStatusSuppressed || aws.ToString(u.Note.Text) != note.Text || aws.ToString(u.FindingIdentifiers[0].ProductArn) != hub.Product().ARN {
		t.Fatalf("update %+v", u)
	}
	if err := hub.SetWorkflow(context.Background(), ids, "DISMISSED", note); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("bad status: %v", err)
	}
	if err := hub.SetWorkflow(context.Background(), ids, WorkflowNew, Note{Text: strings.Repeat("x", MaxNoteLen+1), UpdatedBy: "x"}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("long note: %v", err)
	}
}

// TestMotoSetWorkflow runs SetWorkflow against moto (through the harness's
// BatchUpdateFindings patch): a finding imported as NEW reads back
// SUPPRESSED with the note, and one Security Hub does not have comes back
// unprocessed.
func TestMotoSetWorkflow(t *testing.T) {
	h, _ := motoHub(t)
	ctx := context.Background()
	prefix := "qualys-qscanner:123456789012:us-east-1:" + strings.ToLower(t.Name()) + ":"
	if err := h.Import(ctx, []Finding{motoFinding(prefix, 1)}); err != nil {
		t.Fatal(err)
	}
	id := prefix + "vuln:1"
	note := Note{Text: "until 2026-12-31: never loaded", UpdatedBy: "ecr-image-scanner suppression sup-1"}
	err := h.SetWorkflow(ctx, []string{id, prefix + "vuln:404"}, WorkflowSuppressed, note)
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Failed) != 1 || ie.Failed[0].ID != prefix+"vuln:404" {
		t.Fatalf("err = %v, want the missing finding unprocessed", err)
	}
	got, err := h.Findings(ctx, prefix)
	if err != nil || len(got) != 1 {
		t.Fatalf("Findings: %v %+v", err, got)
	}
	if got[0].Workflow.Status != WorkflowSuppressed || got[0].Note == nil || got[0].Note.Text != note.Text || got[0].Note.UpdatedBy != note.UpdatedBy {
		t.Fatalf("finding workflow %+v note %+v, want SUPPRESSED with the note", got[0].Workflow, got[0].Note)
	}
}
