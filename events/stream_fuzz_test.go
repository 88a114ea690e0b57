package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"ecrscanner/domain"
)

// FuzzStreamRecord checks the stream record's decoding on any input: a JSON
// document either decodes or fails with domain.ErrInvalid; a decoded record
// re-encodes to a form that decodes to the same encoding (one round trip
// settles it); and FromStreamRecord either refuses the record or yields an
// event that validates and fits on the bus.
func FuzzStreamRecord(f *testing.F) {
	addFiles(f, "../testdata/bus/stream-*.json")
	f.Add([]byte(`{"eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":"2024-06-03T08:18:12.5+02:00"}}`))
	f.Add([]byte(`{"dynamodb":{"ApproximateCreationDateTime":1693997155.0}}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, body []byte) {
		var rec StreamRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			if json.Valid(body) && !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("valid JSON refused without domain.ErrInvalid: %v", err)
			}
			return
		}
		first, err := json.Marshal(rec)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		var again StreamRecord
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v\n%s", err, first)
		}
		second, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("second encode: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("round trip changed the record:\n%s\n%s", first, second)
		}

		ev, err := FromStreamRecord(rec.DynamoDBEventRecord)
		if err != nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("published event does not validate: %v", err)
		}
		if _, err := ev.Entry(); err != nil && !errors.Is(err, ErrEventTooLarge) {
			t.Fatalf("published event does not encode: %v", err)
		}
	})
}
