package events

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
)

// EventRecordRejected is the event type of RecordRejected: not a domain
// event, but the enrichment's word that a stream record could not become one.
// Only the rejection rule routes it; no handler's rule matches it.
const EventRecordRejected domain.EventType = "RecordRejected"

// RecordRejected takes the place, in the enrichment's output, of a scans
// table stream record that cannot become a bus event (an item that does not
// decode or validate, an event too large for the bus), so that the record's
// neighbours in the batch are still published and the bad one is not lost:
// a rule parks it in a queue with its reason. The Pipe lets an enrichment
// return fewer or other elements than it received ("Filtering events using
// enrichment", https://docs.aws.amazon.com/eventbridge/latest/userguide/pipes-enrichment.html;
// the array "can be shorter or longer than the original source" as long as
// it fits the target's batch size,
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-batching-concurrency.html);
// one rejection per bad record keeps the output no longer than the batch.
//
// It names the record and says why, and carries none of the item's content,
// which may be what made it too large: every field is clipped, so a
// rejection is always a small event.
type RecordRejected struct {
	SchemaVersion string           `json:"schemaVersion"`
	EventID       string           `json:"eventId"`
	EventType     domain.EventType `json:"eventType"`
	// Time is when the change was written to the stream (its
	// ApproximateCreationDateTime), if the record says.
	Time   time.Time      `json:"time,omitzero"`
	Reason string         `json:"reason"`
	Record RejectedRecord `json:"record"`
}

// RejectedRecord identifies a rejected stream record: enough to find the
// item (its digest key) and the change (sequence number, stream event ID).
type RejectedRecord struct {
	StreamEventID  string `json:"streamEventId"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	EventName      string `json:"eventName,omitempty"`
	EventSourceARN string `json:"eventSourceArn,omitempty"`
	SizeBytes      int64  `json:"sizeBytes,omitempty"`
	// Digest is the item's key; ScanID, ItemEventType and ItemEventID are
	// read from the new image where they are strings.
	Digest        string `json:"digest,omitempty"`
	ScanID        string `json:"scanId,omitempty"`
	ItemEventType string `json:"itemEventType,omitempty"`
	ItemEventID   string `json:"itemEventId,omitempty"`
}

// NewRecordRejected is the rejection of rec for reason. Its event ID is
// derived from the stream event ID, so a batch the Pipe retries rejects the
// record under the same ID.
func NewRecordRejected(rec awsevents.DynamoDBEventRecord, reason error) RecordRejected {
	why := "rejected"
	if reason != nil {
		why = oneLine(reason.Error())
	}
	img := rec.Change.NewImage
	event := mapAttr(img, "event")
	return RecordRejected{
		SchemaVersion: SchemaVersion,
		EventID:       "rejected:" + clipText(rec.EventID),
		EventType:     EventRecordRejected,
		Time:          rec.Change.ApproximateCreationDateTime.Time,
		Reason:        why,
		Record: RejectedRecord{
			StreamEventID:  clipText(rec.EventID),
			SequenceNumber: clipText(rec.Change.SequenceNumber),
			EventName:      clipText(rec.EventName),
			EventSourceARN: clipText(rec.EventSourceArn),
			SizeBytes:      rec.Change.SizeBytes,
			Digest:         stringAttr(rec.Change.Keys, "digest"),
			ScanID:         stringAttr(img, "scanId"),
			ItemEventType:  stringAttr(event, "type"),
			ItemEventID:    stringAttr(event, "id"),
		},
	}
}

// maxReasonBytes bounds a rejection's reason: room for the error's digest,
// scan ID and size, never for the item's content.
const maxReasonBytes = 1024

// oneLine is a reason on one line, clipped: it lands in a queue an operator
// reads and in logs.
func oneLine(s string) string {
	return domain.Truncate(strings.Join(strings.Fields(s), " "), maxReasonBytes, domain.Ellipsis)
}

// stringAttr reads a string attribute, clipped; anything else reads as "".
// aws-lambda-go's accessors panic on the wrong type, hence the check.
func stringAttr(m map[string]awsevents.DynamoDBAttributeValue, name string) string {
	v, ok := m[name]
	if !ok || v.DataType() != awsevents.DataTypeString {
		return ""
	}
	return clipText(v.String())
}

func mapAttr(m map[string]awsevents.DynamoDBAttributeValue, name string) map[string]awsevents.DynamoDBAttributeValue {
	v, ok := m[name]
	if !ok || v.DataType() != awsevents.DataTypeMap {
		return nil
	}
	return v.Map()
}

// PipeEvent is one element of the enrichment's output: a scan event, or a
// RecordRejected in place of a record that could not become one.
type PipeEvent struct {
	Scan     *ScanEvent
	Rejected *RecordRejected
}

// EventType is the element's detail.eventType, which rules route on.
func (p PipeEvent) EventType() domain.EventType {
	switch {
	case p.Scan != nil:
		return p.Scan.EventType
	case p.Rejected != nil:
		return p.Rejected.EventType
	}
	return ""
}

// MarshalJSON renders the element as the bus event's detail.
func (p PipeEvent) MarshalJSON() ([]byte, error) {
	switch {
	case p.Scan != nil && p.Rejected == nil:
		return json.Marshal(p.Scan)
	case p.Rejected != nil && p.Scan == nil:
		return json.Marshal(p.Rejected)
	}
	return nil, errors.New("pipe event: want exactly one of a scan event and a rejection")
}
