package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"ecrscanner/domain"
)

// ErrNotReplayable: the record has no outcome to re-announce (a scan is
// running, or a failed attempt is waiting for its retry).
var ErrNotReplayable = errors.New("scan record has no outcome to replay")

// ReplayEventID is the event ID under which a replay re-announces the outcome
// of scan scanID: one per scan and outcome, whatever the replay. Handlers key
// their effects by event and replay ID, so a replay redoes the work once per
// replay ID, and a repeated delivery of one replay (a resumed run, an SQS
// redelivery) is still deduplicated.
func ReplayEventID(scanID string, outcome domain.EventType) string {
	switch outcome {
	case domain.EventScanCompleted:
		return scanID + ":completed"
	case domain.EventScanFailed:
		return scanID + ":failed"
	}
	return scanID + ":" + string(outcome)
}

// ReplayOutcome is the published event type that re-announces r's current
// state: ScanCompleted for a completed scan, ScanFailed for a scan that failed
// for good. Any other record wraps ErrNotReplayable.
func ReplayOutcome(r domain.ScanRecord) (domain.EventType, error) {
	switch {
	case r.Status == domain.StatusCompleted:
		return domain.EventScanCompleted, nil
	case r.Status == domain.StatusFailed && r.FinalFailure:
		return domain.EventScanFailed, nil
	case r.Status == domain.StatusFailed:
		return "", fmt.Errorf("%w: %s failed and waits for a retry", ErrNotReplayable, r.Digest)
	case r.Status == domain.StatusScanning:
		return "", fmt.Errorf("%w: %s is being scanned", ErrNotReplayable, r.Digest)
	}
	return "", fmt.Errorf("%w: %s has status %q", ErrNotReplayable, r.Digest, r.Status)
}

// ReplayEvent is the bus event that re-announces r's current scan outcome for
// the replay replayID (required). Everything but ReplayID is a function of
// the record: the event ID is ReplayEventID, the time is the scan's
// completion, Ref is the push that started the scan and References are all
// known references. The event is validated as handlers will validate it.
func ReplayEvent(r domain.ScanRecord, replayID string) (ScanEvent, error) {
	if replayID == "" {
		return ScanEvent{}, errors.New("replay event: empty replay ID")
	}
	outcome, err := ReplayOutcome(r)
	if err != nil {
		return ScanEvent{}, err
	}
	r.Event = domain.Event{
		Type: outcome,
		ID:   ReplayEventID(r.ScanID, outcome),
		At:   r.CompletedAt,
		Ref:  r.StartedBy,
	}
	ev, err := NewScanEvent(r)
	if err != nil {
		return ScanEvent{}, fmt.Errorf("replay event for %s: %w", r.Digest, err)
	}
	ev.ReplayID = replayID
	if err := ev.Validate(); err != nil {
		return ScanEvent{}, fmt.Errorf("replay event for %s: %w", r.Digest, err)
	}
	return ev, nil
}

// ruleMessage is an EventBridge event as a rule delivers it to an SQS queue:
// the envelope EventBridge adds, with the fields in EventBridge's order.
type ruleMessage struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// eventBridgeID matches what EventBridge and SQS accept as an event ID
// without surprise: a UUID-like token.
var eventBridgeID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// RuleMessage renders e as the body of the SQS message an EventBridge rule
// would deliver for it (the bus envelope with e as its detail), so that
// sending it straight to one handler's queue looks to the handler like a
// delivery through the bus. id is the envelope's event ID (EventBridge's own,
// distinct from e.EventID); account and region are the bus's.
func (e ScanEvent) RuleMessage(id, account, region string) ([]byte, error) {
	if !eventBridgeID.MatchString(id) {
		return nil, fmt.Errorf("rule message for %s: envelope id %q is not a UUID-like token", e.EventID, id)
	}
	entry, err := e.Entry()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(ruleMessage{
		Version:    "0",
		ID:         id,
		DetailType: entry.DetailType,
		Source:     entry.Source,
		Account:    account,
		Time:       e.Time.UTC().Format(time.RFC3339),
		Region:     region,
		Resources:  []string{},
		Detail:     entry.Detail,
	})
	if err != nil {
		return nil, fmt.Errorf("rule message for %s: %w", e.EventID, err)
	}
	return b, nil
}
