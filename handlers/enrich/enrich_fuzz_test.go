package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
)

// FuzzEnrich checks the enrichment on any stream record: it either fails the
// batch (a record of another table) or returns at most one element, which
// is a scan event that validates, fits on the bus and comes back unchanged
// through DecodeBusMessage as a rule delivers it (what a handler reads is
// what the enrichment wrote), or a small rejection naming the record.
func FuzzEnrich(f *testing.F) {
	for _, b := range testkit.Files(f, filepath.Join(busDir, "stream-*.json")) {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		var rec events.StreamRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			return
		}
		e, _ := newTestEnricher(t)
		out, err := e.Enrich(context.Background(), []events.StreamRecord{rec})
		if err != nil {
			if len(out) != 0 || !errors.Is(err, events.ErrOtherTable) {
				t.Fatalf("error %v with %d events; only a record of another table fails the batch", err, len(out))
			}
			return
		}
		if len(out) > 1 {
			t.Fatalf("one record made %d events", len(out))
		}
		for _, pe := range out {
			if pe.Rejected != nil {
				checkRejection(t, rec, pe)
				continue
			}
			checkRoundTrip(t, *pe.Scan)
		}
	})
}

func checkRejection(t *testing.T, rec events.StreamRecord, pe events.PipeEvent) {
	t.Helper()
	b, err := json.Marshal(pe)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 4096 || pe.Rejected.Reason == "" || pe.Rejected.EventType != events.EventRecordRejected {
		t.Fatalf("rejection of %d bytes: %s", len(b), b)
	}
	if len(rec.EventID) <= 200 && pe.Rejected.Record.StreamEventID != rec.EventID {
		t.Fatalf("rejection names record %q, not %q", pe.Rejected.Record.StreamEventID, rec.EventID)
	}
}

func checkRoundTrip(t *testing.T, ev events.ScanEvent) {
	t.Helper()
	if err := ev.Validate(); err != nil {
		t.Fatalf("published an invalid event: %v", err)
	}
	entry, err := ev.Entry()
	if err != nil {
		t.Fatalf("published an event the bus refuses: %v", err)
	}
	msg, err := json.Marshal(map[string]any{
		"version": "0", "id": "fuzz", "source": entry.Source, "detail-type": entry.DetailType,
		"account": "123456789012", "region": "eu-west-1", "time": "2024-06-03T08:18:12Z",
		"resources": []string{}, "detail": json.RawMessage(entry.Detail),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.DecodeBusMessage(msg)
	if err != nil {
		t.Fatalf("handlers refuse the published event: %v\n%s", err, entry.Detail)
	}
	back, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, entry.Detail) {
		t.Fatalf("event changed on the way through the bus:\n%s\n%s", entry.Detail, back)
	}
}
