package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// The stream fixtures are written by events/stream_test.go from the same
// records as the bus goldens beside them (go test ./events -update), so a
// published fixture must enrich to exactly its golden.
const busDir = "../../testdata/bus"

// fixtureTable is the scans table whose stream the fixtures come from.
const fixtureTable = "arn:aws:dynamodb:eu-west-1:123456789012:table/ecr-image-scans"

func readRecord(t *testing.T, name string) events.StreamRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(busDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var rec events.StreamRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rec
}

func newTestEnricher(t *testing.T) (*Enricher, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	e, err := NewEnricher(fixtureTable, slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return e, &buf
}

func TestEnrichFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		golden  string // empty: dropped
	}{
		{fixture: "stream-scan-completed.json", golden: "scan-completed.golden.json"},
		{fixture: "stream-image-referenced.json", golden: "image-referenced.golden.json"},
		{fixture: "stream-scan-failed.json", golden: "scan-failed.golden.json"},
		{fixture: "stream-scan-started.json"},
		{fixture: "stream-remove.json"},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			e, logs := newTestEnricher(t)
			out, err := e.Enrich(context.Background(), []events.StreamRecord{readRecord(t, tc.fixture)})
			if err != nil {
				t.Fatal(err)
			}
			if tc.golden == "" {
				if len(out) != 0 {
					t.Fatalf("published %+v, want the record dropped", out)
				}
				if !strings.Contains(logs.String(), `"msg":"stream record dropped"`) {
					t.Errorf("drop not logged: %s", logs)
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("published %d events, want 1", len(out))
			}
			got, err := json.MarshalIndent(out[0], "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(busDir, tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(got, '\n'), want) {
				t.Errorf("event differs from %s:\n%s", tc.golden, got)
			}
			if out[0].Scan == nil {
				t.Fatalf("published %+v, want a scan event", out[0])
			}
			if !strings.Contains(logs.String(), `"event_id":"`+out[0].Scan.EventID+`"`) {
				t.Errorf("publication not logged with its event_id: %s", logs)
			}
		})
	}
}

func TestEnrichBatch(t *testing.T) {
	rec := func(name string) events.StreamRecord { return readRecord(t, name) }
	tests := []struct {
		name    string
		records []events.StreamRecord
		want    []domain.EventType
	}{
		{
			name: "keeps order and drops unpublished records",
			records: []events.StreamRecord{
				rec("stream-scan-started.json"), rec("stream-scan-completed.json"), rec("stream-remove.json"),
				rec("stream-image-referenced.json"), rec("stream-scan-failed.json"),
			},
			want: []domain.EventType{domain.EventScanCompleted, domain.EventImageReferenced, domain.EventScanFailed},
		},
		{
			name:    "order follows the records, not the event types",
			records: []events.StreamRecord{rec("stream-scan-failed.json"), rec("stream-image-referenced.json"), rec("stream-scan-completed.json")},
			want:    []domain.EventType{domain.EventScanFailed, domain.EventImageReferenced, domain.EventScanCompleted},
		},
		{
			name:    "a batch of bookkeeping only publishes nothing",
			records: []events.StreamRecord{rec("stream-scan-started.json"), rec("stream-remove.json")},
			want:    []domain.EventType{},
		},
		{
			name:    "empty batch",
			records: nil,
			want:    []domain.EventType{},
		},
		{
			name:    "an undecodable record is rejected in place; its neighbours are published",
			records: []events.StreamRecord{rec("stream-scan-completed.json"), rec("stream-garbage.json"), rec("stream-scan-failed.json")},
			want:    []domain.EventType{domain.EventScanCompleted, events.EventRecordRejected, domain.EventScanFailed},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newTestEnricher(t)
			out, err := e.Enrich(context.Background(), tc.records)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]domain.EventType, len(out))
			for i, ev := range out {
				got[i] = ev.EventType()
			}
			if strings.Join(eventTypes(got), ",") != strings.Join(eventTypes(tc.want), ",") {
				t.Errorf("published %v, want %v", got, tc.want)
			}
			// The Pipe reads the function's output as a JSON array; null
			// would not be one.
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.want) == 0 && string(b) != "[]" {
				t.Errorf("output %s, want []", b)
			}
			for _, ev := range out {
				if ev.Scan == nil {
					continue
				}
				if err := ev.Scan.Validate(); err != nil {
					t.Errorf("published an invalid event %s: %v", ev.Scan.EventID, err)
				}
			}
		})
	}
}

func eventTypes(ts []domain.EventType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// What the Pipe sends is a JSON array of stream records; what goes back is
// an array of schema 2 events, which the Pipe puts on the bus under one
// static detail-type: none of them names its own.
func TestEnrichOverTheWire(t *testing.T) {
	var batch []json.RawMessage
	for _, name := range []string{"stream-scan-completed.json", "stream-scan-started.json", "stream-image-referenced.json"} {
		b, err := os.ReadFile(filepath.Join(busDir, name))
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, b)
	}
	payload, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	var records []events.StreamRecord
	if err := json.Unmarshal(payload, &records); err != nil {
		t.Fatal(err)
	}
	e, _ := newTestEnricher(t)
	out, err := e.Enrich(context.Background(), records)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var generic []map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	want := []string{string(domain.EventScanCompleted), string(domain.EventImageReferenced)}
	if len(generic) != len(want) {
		t.Fatalf("output %s", b)
	}
	for i, et := range want {
		if _, ok := generic[i]["detailType"]; ok || generic[i]["eventType"] != et || generic[i]["schemaVersion"] != events.SchemaVersion {
			t.Errorf("event %d: %v; want eventType %q, schemaVersion %q and no detailType", i, generic[i], et, events.SchemaVersion)
		}
	}
}
