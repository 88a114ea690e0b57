package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// The schema1-*.json fixtures are details as schema 1 published them (the
// goldens of that version, kept verbatim): the bus archive replays such
// events for as long as it keeps them, and handlers must still read them.
func TestDecodeBusMessageReadsSchema1Events(t *testing.T) {
	tests := []struct {
		fixture, detailType string
		eventType           domain.EventType
	}{
		{"schema1-scan-completed.json", "Scan Completed", domain.EventScanCompleted},
		{"schema1-image-referenced.json", "Image Referenced", domain.EventImageReferenced},
		{"schema1-scan-failed.json", "Scan Failed", domain.EventScanFailed},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			detail, err := os.ReadFile(filepath.Join(busDir, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := events.DecodeBusMessage(busMessage(t, tc.detailType, events.Source, detail, "replay-of-june"))
			if err != nil {
				t.Fatal(err)
			}
			if ev.SchemaVersion != "1" || ev.EventType != tc.eventType || ev.ReplayID != "archive:replay-of-june" {
				t.Errorf("decoded schema %q type %q replay %q", ev.SchemaVersion, ev.EventType, ev.ReplayID)
			}
			// What the handlers read of a schema 1 event is what schema 2
			// carries for the same record: the versions differ only in the
			// dropped detailType field.
			var v1 map[string]any
			if err := json.Unmarshal(detail, &v1); err != nil {
				t.Fatal(err)
			}
			if v1["eventId"] != ev.EventID || v1["scanId"] != ev.ScanID || v1["digest"] != string(ev.Digest) {
				t.Errorf("decoded %+v from %s", ev, detail)
			}
			if want, ok := events.LegacyDetailType(tc.eventType); !ok || want != tc.detailType {
				t.Errorf("LegacyDetailType(%s) = %q, %v", tc.eventType, want, ok)
			}
		})
	}
}

// A schema 1 event is checked as schema 1 was: its envelope's detail-type
// must be the one its detail names, and the one of its event type.
func TestDecodeBusMessageRefusesMismatchedSchema1Events(t *testing.T) {
	completed, err := os.ReadFile(filepath.Join(busDir, "schema1-scan-completed.json"))
	if err != nil {
		t.Fatal(err)
	}
	relabelled := bytes.Replace(completed, []byte(`"detailType": "Scan Completed"`), []byte(`"detailType": "Scan Failed"`), 1)
	tests := []struct {
		name, detailType string
		detail           []byte
		msg              string
	}{
		{"envelope and detail disagree", "Scan Failed", completed, `detail-type "Scan Failed" does not match detail "Scan Completed"`},
		{"schema 1 under the static detail-type", events.DetailType, completed, `detail-type "Image Scan Event" does not match detail "Scan Completed"`},
		{"detail-type of another event type", "Scan Failed", relabelled, `schema 1 detail-type "Scan Failed", want "Scan Completed" for a ScanCompleted event`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.DecodeBusMessage(busMessage(t, tc.detailType, events.Source, tc.detail, ""))
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one saying %q", err, tc.msg)
			}
		})
	}
}
