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
