package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"ecrscanner/events"
)

const busTable = "arn:aws:dynamodb:eu-west-1:123456789012:table/ecr-image-scans"

func TestScansStreamCheck(t *testing.T) {
	s, err := events.NewScansStream(busTable)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, source string
		wantErr      bool
	}{
		{name: "the fixtures' stream", source: busStreamARN},
		{name: "a later stream of the same table", source: busTable + "/stream/2025-01-01T00:00:00.000"},
		{name: "another table", source: "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2024-06-01T00:00:00.000", wantErr: true},
		{name: "a longer table name", source: busTable + "-v2/stream/2024-06-01T00:00:00.000", wantErr: true},
		{name: "the table, not a stream", source: busTable, wantErr: true},
		{name: "a stream without a label", source: busTable + "/stream/", wantErr: true},
		{name: "something after the label", source: busStreamARN + "/shard", wantErr: true},
		{name: "empty", source: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Check("rec-1", tc.source)
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, events.ErrOtherTable) || !strings.Contains(err.Error(), "rec-1") {
				t.Errorf("error %v, want ErrOtherTable naming the record", err)
			}
		})
	}
	if err := (events.ScansStream{}).Check("rec-1", busStreamARN); err == nil {
		t.Error("an unconfigured ScansStream accepted a record")
	}
}

// Both documented forms of the creation time decode to the same instant,
// and the record encodes back in aws-lambda-go's form (epoch seconds).
func TestStreamRecordCreationTimeForms(t *testing.T) {
	fixture := readStreamFixture(t, "stream-scan-completed.json")
	want := fixture.Change.ApproximateCreationDateTime.Time
	tests := []struct {
		name, created string
	}{
		{name: "epoch seconds", created: `1717402692`},
		{name: "ISO 8601", created: `"2024-06-03T08:18:12Z"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(fixture)
			if err != nil {
				t.Fatal(err)
			}
			b = []byte(strings.Replace(string(b), `"ApproximateCreationDateTime":1717402692`, `"ApproximateCreationDateTime":`+tc.created, 1))
			var rec events.StreamRecord
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			if got := rec.Change.ApproximateCreationDateTime.Time; !got.Equal(want) {
				t.Errorf("creation time %v, want %v", got, want)
			}
			if rec.EventID != fixture.EventID || rec.EventSourceArn != busStreamARN || len(rec.Change.NewImage) != len(fixture.Change.NewImage) {
				t.Errorf("record lost fields: %+v", rec)
			}
			back, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(back), `"ApproximateCreationDateTime":1717402692`) {
				t.Errorf("record encodes as %s, want epoch seconds", back)
			}
		})
	}
}

// The size is EventBridge's: 14 bytes for Time, then the UTF-8 bytes of
// Source, DetailType and Detail; the entry must stay under 256 KB.
func TestCheckPipeEntry(t *testing.T) {
	base := newBusEvent(t, newBusRecords(t).failed)
	overhead := func(ev events.ScanEvent) int {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return 14 + len(events.Source) + len("Image Scan Event") + len(b)
	}
	// padded is base with a reason that brings the entry to size bytes.
	padded := func(size int, char string) events.ScanEvent {
		ev := base
		f := *ev.Failure
		ev.Failure = &f
		f.Reason = ""
		n := size - overhead(ev)
		f.Reason = strings.Repeat(char, n/len(char)) + strings.Repeat("a", n%len(char))
		return ev
	}
	tests := []struct {
		name    string
		ev      events.ScanEvent
		wantErr bool
	}{
		{name: "the golden event", ev: base},
		{name: "one byte under the limit", ev: padded(events.MaxDetailBytes-1, "a")},
		{name: "at the limit", ev: padded(events.MaxDetailBytes, "a"), wantErr: true},
		{name: "multi-byte characters count as their UTF-8 bytes", ev: padded(events.MaxDetailBytes, "ü"), wantErr: true},
		{name: "far over", ev: padded(2*events.MaxDetailBytes, "a"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := events.PipeEntrySize(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if n != overhead(tc.ev) {
				t.Errorf("size %d, want %d", n, overhead(tc.ev))
			}
			err = events.CheckPipeEntry(tc.ev)
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, events.ErrEventTooLarge) {
				t.Fatalf("error %v, want ErrEventTooLarge", err)
			}
			for _, want := range []string{string(tc.ev.Digest), tc.ev.ScanID, " bytes"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}
