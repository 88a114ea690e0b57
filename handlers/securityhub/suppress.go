package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/securityhubstore"
)

// UseSuppressions makes the handler set the workflow of suppressed findings
// to SUPPRESSED, with the rule's reason as the note, as the rules src holds
// stand at now() when it acts; a finding it suppressed whose rule has
// expired or gone is set back to NEW. Findings an analyst suppressed (a
// note not written by noteAuthor) are left alone.
func (h *Handler) UseSuppressions(src domain.SuppressionSource, now func() time.Time) {
	h.rules, h.now = src, now
}

// noteAuthor is the UpdatedBy of the notes the handler writes: how it tells
// its own suppressions from an analyst's.
const noteAuthor = "ecr-image-scanner/suppressions"

// loadRules reads the rules for an event. Unlike the alert handler, which
// alerts on everything rather than on nothing, this one cannot converge on
// the right workflow without them: the error is retried, and the message
// ends in the DLQ (with its alarm) if the rules stay unreadable.
func (h *Handler) loadRules(ctx context.Context) (domain.Suppressions, error) {
	if h.rules == nil {
		return domain.Suppressions{}, nil
	}
	ss, _, err := h.rules.Load(ctx)
	if err != nil {
		return domain.Suppressions{}, fmt.Errorf("read suppressions: %w", err)
	}
	return ss, nil
}

// suppressor marks the findings of one image in one repository.
type suppressor struct {
	rules domain.Suppressions // Scoped to the image
	at    time.Time
}

func (h *Handler) suppressorFor(rules domain.Suppressions, im image) suppressor {
	if h.rules == nil {
		return suppressor{}
	}
	now := h.now()
	return suppressor{rules: rules.Scoped(im.repository, im.digest, now), at: now}
}

func (s suppressor) vuln(f securityhubstore.Finding, v domain.Vulnerability) securityhubstore.Finding {
	r, ok := s.rules.Vulnerability(v)
	return s.mark(f, r, ok)
}

func (s suppressor) secret(f securityhubstore.Finding, sec domain.Secret) securityhubstore.Finding {
	r, ok := s.rules.Secret(sec)
	return s.mark(f, r, ok)
}

// mark makes f a SUPPRESSED finding with the rule's reason as its note. An
// import sets the workflow and note of a new finding only; workflowUpdates
// brings existing ones along.
func (s suppressor) mark(f securityhubstore.Finding, r domain.Suppression, ok bool) securityhubstore.Finding {
	if !ok {
		return f
	}
	f.Workflow.Status = securityhubstore.WorkflowSuppressed
	text := fmt.Sprintf("Suppressed until %s by rule %s (owner %s): %s", r.ExpiresAt.UTC().Format(time.RFC3339), r.ID, r.Owner, r.Reason)
	f.Note = &securityhubstore.Note{Text: domain.Truncate(text, securityhubstore.MaxNoteLen, domain.Ellipsis), UpdatedBy: noteAuthor, UpdatedAt: s.at}
	return f
}

// noteLapsed is the note of a finding whose suppression lapsed.
const noteLapsed = "Suppression lapsed (expired or removed): the finding counts again."

// workflowChange is a BatchUpdateFindings the import needs after it: the
// findings set to one status with one note.
type workflowChange struct {
	status string
	note   securityhubstore.Note
	ids    []string
}

// workflowUpdates collects what an import cannot change on existing
// findings: suppressing one that is not SUPPRESSED yet, and setting one the
// handler suppressed back to NEW when no rule suppresses it any more.
type workflowUpdates map[string]*workflowChange // by status and note text

func (w workflowUpdates) note(old, f securityhubstore.Finding) {
	suppressed := f.Workflow.Status == securityhubstore.WorkflowSuppressed
	ours := old.Note != nil && old.Note.UpdatedBy == noteAuthor
	switch {
	case suppressed && (old.Workflow.Status != securityhubstore.WorkflowSuppressed || (ours && old.Note.Text != f.Note.Text)):
		w.add(securityhubstore.WorkflowSuppressed, *f.Note, f.ID)
	case !suppressed && old.Workflow.Status == securityhubstore.WorkflowSuppressed && ours:
		w.add(securityhubstore.WorkflowNew, securityhubstore.Note{Text: noteLapsed, UpdatedBy: noteAuthor}, f.ID)
	}
}

func (w workflowUpdates) add(status string, note securityhubstore.Note, id string) {
	k := status + "\x00" + note.Text
	if w[k] == nil {
		w[k] = &workflowChange{status: status, note: note}
	}
	w[k].ids = append(w[k].ids, id)
}

// apply sends the changes, in a stable order.
func (w workflowUpdates) apply(ctx context.Context, hub findingStore) error {
	for _, k := range slices.Sorted(maps.Keys(w)) {
		c := w[k]
		if err := hub.SetWorkflow(ctx, c.ids, c.status, c.note); err != nil {
			return err
		}
	}
	return nil
}
