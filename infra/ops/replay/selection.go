package replay

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// ErrEmptySelection: a replay must say what it re-emits; "everything" has to
// be asked for with All.
var ErrEmptySelection = errors.New("no selection: choose digests, a repository, a time window, or all")

// Selection says which records a replay re-emits. Its criteria combine: a
// record is selected when it meets every one that is set.
type Selection struct {
	// Digests selects these records only.
	Digests []domain.Digest `json:"digests,omitempty"`
	// Repository selects records with a reference in this repository, and
	// keeps only that repository's references in the events.
	Repository string `json:"repository,omitempty"`
	// Since (inclusive) and Until (exclusive) bound the scan's completion
	// time.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// All selects every record; it must be set when nothing else is.
	All bool `json:"all,omitempty"`
}

// Validate refuses an empty or contradictory selection.
func (s Selection) Validate() error {
	if !s.All && len(s.Digests) == 0 && s.Repository == "" && s.Since.IsZero() && s.Until.IsZero() {
		return ErrEmptySelection
	}
	if s.All && (len(s.Digests) > 0 || s.Repository != "" || !s.Since.IsZero() || !s.Until.IsZero()) {
		return errors.New("all selects every record: it cannot be combined with other criteria")
	}
	if s.Repository != "" {
		if err := domain.ValidateRepository(s.Repository); err != nil {
			return err
		}
	}
	if !s.Since.IsZero() && !s.Until.IsZero() && !s.Since.Before(s.Until) {
		return fmt.Errorf("since %s is not before until %s", s.Since.Format(time.RFC3339), s.Until.Format(time.RFC3339))
	}
	return nil
}

// Match reports whether r meets the selection's criteria (its outcome aside:
// see events.ReplayOutcome).
func (s Selection) Match(r domain.ScanRecord) bool {
	if len(s.Digests) > 0 && !slices.Contains(s.Digests, r.Digest) {
		return false
	}
	if !s.Since.IsZero() && r.CompletedAt.Before(s.Since) {
		return false
	}
	if !s.Until.IsZero() && !r.CompletedAt.Before(s.Until) {
		return false
	}
	if s.Repository != "" {
		return slices.ContainsFunc(r.References, func(ref domain.Reference) bool { return ref.Repository == s.Repository })
	}
	return true
}

// Event is the replay event for r under this selection: events.ReplayEvent,
// narrowed to the selected repository's references when one is set. Ref stays
// the push that started the scan when it is in that repository, and becomes
// the repository's first reference otherwise, so a handler never sees a Ref
// outside the references it is asked to act for.
func (s Selection) Event(r domain.ScanRecord, replayID string) (events.ScanEvent, error) {
	ev, err := events.ReplayEvent(r, replayID)
	if err != nil || s.Repository == "" {
		return ev, err
	}
	var kept []domain.ImageRef
	for _, ref := range ev.References {
		if ref.Repository == s.Repository {
			kept = append(kept, ref)
		}
	}
	if len(kept) == 0 {
		return events.ScanEvent{}, fmt.Errorf("%s has no reference in %s", r.Digest, s.Repository)
	}
	ev.References = kept
	if ev.Ref.Repository != s.Repository {
		ev.Ref = kept[0]
	}
	return ev, nil
}
