package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// A rejection names the record and says why, readable fields only.
func TestNewRecordRejectedNamesTheRecord(t *testing.T) {
	rec := readStreamFixture(t, "stream-garbage.json")
	_, decodeErr := events.FromStreamRecord(rec)
	if decodeErr == nil {
		t.Fatal("the garbage fixture decodes")
	}
	r := events.NewRecordRejected(rec, decodeErr)
	if r.SchemaVersion != events.SchemaVersion || r.EventType != events.EventRecordRejected || r.EventID != "rejected:"+rec.EventID {
		t.Errorf("rejection %+v", r)
	}
	if r.Reason != decodeErr.Error() {
		t.Errorf("reason %q, want the decode error %q", r.Reason, decodeErr)
	}
	want := events.RejectedRecord{
		StreamEventID: rec.EventID, SequenceNumber: rec.Change.SequenceNumber, EventName: rec.EventName,
		EventSourceARN: rec.EventSourceArn, SizeBytes: rec.Change.SizeBytes,
		Digest:        rec.Change.Keys["digest"].String(),
		ScanID:        rec.Change.NewImage["scanId"].String(),
		ItemEventType: "ScanCompleted", ItemEventID: "0badc0de0badc0de0badc0de0badc0de",
	}
	if r.Record != want {
		t.Errorf("record %+v\nwant %+v", r.Record, want)
	}
	if !r.Time.Equal(rec.Change.ApproximateCreationDateTime.Time) || r.Time.IsZero() {
		t.Errorf("time %v, want the record's creation time", r.Time)
	}
}

// Whatever the record holds, its rejection stays small and one-line: no
// item content, every echoed value clipped.
func TestRecordRejectedStaysSmall(t *testing.T) {
	huge := strings.Repeat("x", 300*1024)
	rec := awsevents.DynamoDBEventRecord{
		EventID: huge, EventName: "MODIFY", EventSourceArn: huge,
		Change: awsevents.DynamoDBStreamRecord{
			SequenceNumber: huge, SizeBytes: 400 * 1024,
			Keys: map[string]awsevents.DynamoDBAttributeValue{"digest": awsevents.NewStringAttribute(huge)},
			NewImage: map[string]awsevents.DynamoDBAttributeValue{
				"scanId":     awsevents.NewNumberAttribute("12"), // not a string: left out
				"findings":   awsevents.NewStringAttribute(huge),
				"event":      awsevents.NewMapAttribute(map[string]awsevents.DynamoDBAttributeValue{"type": awsevents.NewStringAttribute(huge)}),
				"references": awsevents.NewListAttribute(nil),
			},
		},
	}
	r := events.NewRecordRejected(rec, fmt.Errorf("%w: line one\nline two %s", events.ErrEventTooLarge, huge))
	b, err := json.Marshal(events.PipeEvent{Rejected: &r})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 4096 {
		t.Errorf("rejection is %d bytes", len(b))
	}
	if strings.ContainsAny(r.Reason, "\r\n") || !strings.HasPrefix(r.Reason, events.ErrEventTooLarge.Error()+": line one line two") {
		t.Errorf("reason %q", r.Reason)
	}
	if r.Record.ScanID != "" {
		t.Errorf("a number scanId read as %q", r.Record.ScanID)
	}
	if r := events.NewRecordRejected(awsevents.DynamoDBEventRecord{}, nil); r.Reason == "" {
		t.Error("a rejection without an error has no reason")
	}
}

// A rejection is not a scan event: a handler that got one anyway refuses it
// as invalid (a permanent failure), never acts on it.
func TestDecodeBusMessageRefusesRejections(t *testing.T) {
	rec := readStreamFixture(t, "stream-garbage.json")
	r := events.NewRecordRejected(rec, errors.New("bad item"))
	detail, err := json.Marshal(events.PipeEvent{Rejected: &r})
	if err != nil {
		t.Fatal(err)
	}
	_, err = events.DecodeBusMessage(busMessage(t, events.DetailType, events.Source, detail, ""))
	if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), `event type "RecordRejected" is not published`) {
		t.Fatalf("error %v", err)
	}
}

func TestPipeEventMarshalsExactlyOneEvent(t *testing.T) {
	ev := newBusEvent(t, newBusRecords(t).completed)
	r := events.NewRecordRejected(awsevents.DynamoDBEventRecord{EventID: "e1"}, errors.New("bad"))
	scan, err := json.Marshal(events.PipeEvent{Scan: &ev})
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := json.Marshal(ev)
	if string(scan) != string(direct) {
		t.Errorf("scan element %s, want the event itself %s", scan, direct)
	}
	if got := (events.PipeEvent{Scan: &ev}).EventType(); got != domain.EventScanCompleted {
		t.Errorf("event type %q", got)
	}
	if got := (events.PipeEvent{Rejected: &r}).EventType(); got != events.EventRecordRejected {
		t.Errorf("event type %q", got)
	}
	for _, bad := range []events.PipeEvent{{}, {Scan: &ev, Rejected: &r}} {
		if _, err := json.Marshal(bad); err == nil || !strings.Contains(err.Error(), "exactly one") {
			t.Errorf("marshalled %+v: %v", bad, err)
		}
		if bad.Scan == nil && bad.EventType() != "" {
			t.Errorf("empty element has event type %q", bad.EventType())
		}
	}
}
