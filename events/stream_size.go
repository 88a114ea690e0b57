package events

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrEventTooLarge: a scan event would exceed EventBridge's entry size limit.
var ErrEventTooLarge = errors.New("scan event over EventBridge's entry size limit")

// PipeEntrySize is the size EventBridge counts for ev when the Pipe puts it
// on the bus: the Pipe's target sets Source and the static DetailType and
// sends the enriched event as the detail. PutEvents counts "the Time
// parameter [as] 14 bytes" if specified, and Source, DetailType, Detail and
// each of Resources as the bytes of their UTF-8 forms; "the total entry size
// must be less than 256KB" ("Calculating Amazon EventBridge PutEvents event
// entry size",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
// Time is counted whether or not the Pipe sets it; the Pipe sets no
// Resources.
func PipeEntrySize(ev ScanEvent) (int, error) {
	detail, err := json.Marshal(ev)
	if err != nil {
		return 0, fmt.Errorf("encode scan event %s: %w", ev.EventID, err)
	}
	return entrySize(detail), nil
}

// entrySize is an entry's size as EventBridge counts it for an event of this
// project's source and detail-type, without resources.
func entrySize(detail []byte) int {
	const timeBytes = 14
	return timeBytes + len(Source) + len(DetailType) + len(detail)
}

// CheckPipeEntry returns an error wrapping ErrEventTooLarge, naming the
// digest, the scan ID and the size, if ev is too large for the bus.
//
// An event over the limit fails; it is not trimmed. A handler acts for
// every reference the event carries, and none of them reads the scans
// table, so an event cut down to fit would make them silently do less (no
// archive entry, tags or alert for the references cut). Such an event cannot
// come from a record the domain wrote (it bounds references, top findings
// and reasons), so it means a bug or a hand-edited item: the enrichment
// publishes a RecordRejected event in its place, with this error as the
// reason, which a rule parks where an operator sees it.
func CheckPipeEntry(ev ScanEvent) error {
	n, err := PipeEntrySize(ev)
	if err != nil {
		return err
	}
	if n >= MaxDetailBytes {
		return fmt.Errorf("%w: event %s for %s, scan %s, is %d bytes as EventBridge counts it; it must be under %d",
			ErrEventTooLarge, ev.EventID, ev.Digest, ev.ScanID, n, MaxDetailBytes)
	}
	return nil
}
