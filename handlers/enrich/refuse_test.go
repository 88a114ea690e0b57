package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
	"ecrscanner/events"
)

func TestNewEnricher(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	tests := []struct {
		name    string
		table   string
		logger  *slog.Logger
		wantErr string
	}{
		{name: "table ARN", table: fixtureTable, logger: logger},
		{name: "GovCloud partition", table: "arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/scans", logger: logger},
		{name: "a stream ARN is not a table ARN", table: fixtureTable + "/stream/2024-06-01T00:00:00.000", logger: logger, wantErr: "scans table ARN"},
		{name: "a table name alone", table: "ecr-image-scans", logger: logger, wantErr: "scans table ARN"},
		{name: "another service", table: "arn:aws:sqs:eu-west-1:123456789012:table/ecr-image-scans", logger: logger, wantErr: "scans table ARN"},
		{name: "no logger", table: fixtureTable, wantErr: "logger"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEnricher(tc.table, tc.logger)
			if tc.wantErr == "" {
				if err != nil || e == nil {
					t.Fatalf("NewEnricher = %v, %v", e, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one about the %s", err, tc.wantErr)
			}
		})
	}
}

// A record of another table means the Pipe is misconfigured: it fails the
// batch (the Pipe retries and dead-letters it), whatever its change is.
func TestEnrichRefusesRecordsOfOtherTables(t *testing.T) {
	tests := []struct {
		name, fixture, source string
	}{
		{name: "another table's stream", fixture: "stream-scan-completed.json", source: "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2024-06-01T00:00:00.000"},
		{name: "a table whose name starts like the scans table's", fixture: "stream-scan-completed.json", source: "arn:aws:dynamodb:eu-west-1:123456789012:table/ecr-image-scans-old/stream/2024-06-01T00:00:00.000"},
		{name: "the scans table's name in another account", fixture: "stream-scan-failed.json", source: "arn:aws:dynamodb:eu-west-1:210987654321:table/ecr-image-scans/stream/2024-06-01T00:00:00.000"},
		{name: "the scans table's name in another region", fixture: "stream-scan-failed.json", source: "arn:aws:dynamodb:us-east-1:123456789012:table/ecr-image-scans/stream/2024-06-01T00:00:00.000"},
		{name: "the table itself, not a stream", fixture: "stream-scan-completed.json", source: fixtureTable},
		{name: "no source ARN", fixture: "stream-scan-completed.json", source: ""},
		{name: "bookkeeping of another table is not dropped either", fixture: "stream-scan-started.json", source: "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2024-06-01T00:00:00.000"},
		{name: "a removal of another table", fixture: "stream-remove.json", source: "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2024-06-01T00:00:00.000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			foreign := readRecord(t, tc.fixture)
			foreign.EventSourceArn = tc.source
			e, logs := newTestEnricher(t)
			out, err := e.Enrich(context.Background(), []events.StreamRecord{readRecord(t, "stream-image-referenced.json"), foreign})
			if !errors.Is(err, events.ErrOtherTable) {
				t.Fatalf("error %v, want one wrapping ErrOtherTable", err)
			}
			if out != nil {
				t.Errorf("published %d events from a failed batch", len(out))
			}
			for _, want := range []string{foreign.EventID, fixtureTable} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if strings.Contains(logs.String(), "stream record dropped") {
				t.Errorf("a record of another table was dropped: %s", logs)
			}
		})
	}
}

// The creation time comes as epoch seconds (integral or not) or as an ISO
// 8601 string; either decodes as the Lambda runtime decodes the batch, and
// the record enriches to its golden.
func TestEnrichReadsBothCreationTimeForms(t *testing.T) {
	want := time.Date(2024, 6, 3, 8, 18, 12, 0, time.UTC)
	tests := []struct {
		name    string
		created string // JSON value; empty: the field is left out
		want    time.Time
		wantErr bool
	}{
		{name: "epoch seconds", created: `1717402692`, want: want},
		{name: "epoch seconds with a fraction", created: `1717402692.0`, want: want},
		{name: "ISO 8601 in UTC", created: `"2024-06-03T08:18:12Z"`, want: want},
		{name: "ISO 8601 with an offset and milliseconds", created: `"2024-06-03T10:18:12.000+02:00"`, want: want},
		{name: "absent", created: ""},
		{name: "null", created: `null`},
		{name: "words", created: `"yesterday"`, wantErr: true},
		{name: "ISO 8601 without a zone", created: `"2024-06-03T08:18:12"`, wantErr: true},
		{name: "a boolean", created: `true`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := "[" + withCreated(t, "stream-scan-completed.json", tc.created) + "]"
			var records []events.StreamRecord
			err := json.Unmarshal([]byte(payload), &records)
			if tc.wantErr {
				if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "b2c3d4e5f60718293a4b5c6d7e8f90a1") {
					t.Fatalf("error %v, want an invalid record naming its event ID", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := records[0].Change.ApproximateCreationDateTime.Time; !got.Equal(tc.want) {
				t.Errorf("creation time %v, want %v", got, tc.want)
			}
			e, _ := newTestEnricher(t)
			out, err := e.Enrich(context.Background(), records)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 {
				t.Fatalf("published %d events, want 1", len(out))
			}
			got, err := json.MarshalIndent(out[0], "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden, err := os.ReadFile(filepath.Join(busDir, "scan-completed.golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			if string(append(got, '\n')) != string(golden) {
				t.Errorf("event differs from the golden:\n%s", got)
			}
		})
	}
}

// withCreated is the fixture's JSON with its dynamodb.ApproximateCreationDateTime
// set to the JSON value created (left out when empty).
func withCreated(t *testing.T, fixture, created string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(busDir, fixture))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	var change map[string]json.RawMessage
	if err := json.Unmarshal(rec["dynamodb"], &change); err != nil {
		t.Fatal(err)
	}
	delete(change, "ApproximateCreationDateTime")
	if created != "" {
		change["ApproximateCreationDateTime"] = json.RawMessage(created)
	}
	if rec["dynamodb"], err = json.Marshal(change); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// An event over EventBridge's entry limit is not published, nor dropped, nor
// does it fail its batch: a rejection with the digest, scan ID and size
// takes its place, and its neighbour is published.
func TestEnrichRejectsEventsTooLargeForTheBus(t *testing.T) {
	tests := []struct {
		name       string
		refs       int
		wantReject bool
	}{
		{name: "as many references as the domain keeps, with the longest names", refs: domain.MaxReferences},
		{name: "five times that", refs: 5 * domain.MaxReferences, wantReject: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := withReferences(readRecord(t, "stream-scan-completed.json"), tc.refs)
			e, logs := newTestEnricher(t)
			out, err := e.Enrich(context.Background(), []events.StreamRecord{readRecord(t, "stream-scan-failed.json"), rec})
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 2 || out[0].EventType() != domain.EventScanFailed {
				t.Fatalf("output %+v, want the failed scan and one more element", out)
			}
			if !tc.wantReject {
				if out[1].Scan == nil {
					t.Fatalf("rejected: %+v", out[1].Rejected)
				}
				if n, _ := events.PipeEntrySize(*out[1].Scan); len(out[1].Scan.References) != tc.refs || n >= events.MaxDetailBytes {
					t.Errorf("%d references, %d bytes; want %d references under %d bytes", len(out[1].Scan.References), n, tc.refs, events.MaxDetailBytes)
				}
				return
			}
			r := out[1].Rejected
			if r == nil {
				t.Fatalf("published %d references", len(out[1].Scan.References))
			}
			for _, want := range []string{events.ErrEventTooLarge.Error(), "sha256:3b5f1c9a2e7d4f6b8a0c1e3d5f7a9b2c4e6d8f0a1b3c5d7e9f2a4c6e8b0d1f3a", "scan 7d1c5e9a3b2f4c6e8a0b1d3f5e7c9a2b", " bytes"} {
				if !strings.Contains(r.Reason, want) {
					t.Errorf("reason %q does not say %q", r.Reason, want)
				}
			}
			if r.Record.StreamEventID != rec.EventID || r.Record.Digest != "sha256:3b5f1c9a2e7d4f6b8a0c1e3d5f7a9b2c4e6d8f0a1b3c5d7e9f2a4c6e8b0d1f3a" {
				t.Errorf("rejection names %+v", r.Record)
			}
			if b, _ := json.Marshal(out[1]); len(b) > 4096 {
				t.Errorf("rejection is %d bytes; it must not carry the item", len(b))
			}
			if !strings.Contains(logs.String(), `"msg":"stream record rejected"`) || !strings.Contains(logs.String(), `"reason":"`+events.ErrEventTooLarge.Error()) {
				t.Errorf("rejection not logged with its reason: %s", logs)
			}
		})
	}
}

// A batch with good and bad records: the good ones are published in order,
// each bad one is replaced by its rejection, which says why.
func TestEnrichRejectsBadRecordsInPlace(t *testing.T) {
	unknown := readRecord(t, "stream-scan-completed.json")
	unknown.EventID = "c0ffee00c0ffee00c0ffee00c0ffee00"
	unknown.Change.NewImage = map[string]awsevents.DynamoDBAttributeValue{"digest": unknown.Change.NewImage["digest"], "status": awsevents.NewNumberAttribute("7")}
	batch := []events.StreamRecord{
		readRecord(t, "stream-image-referenced.json"), readRecord(t, "stream-garbage.json"),
		unknown, readRecord(t, "stream-scan-completed.json"),
	}
	e, _ := newTestEnricher(t)
	out, err := e.Enrich(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 || out[0].Scan == nil || out[3].Scan == nil || out[1].Rejected == nil || out[2].Rejected == nil {
		t.Fatalf("output %+v, want event, rejection, rejection, event", out)
	}
	for i, want := range map[int]string{1: "0badc0de0badc0de0badc0de0badc0de", 2: "c0ffee00c0ffee00c0ffee00c0ffee00"} {
		r := out[i].Rejected
		if r.Record.StreamEventID != batch[i].EventID || !strings.Contains(r.Reason, want) || !strings.Contains(r.Reason, "invalid") {
			t.Errorf("element %d: %+v, want the rejection of %s with its reason", i, r, want)
		}
	}
}

// withReferences gives rec's new image n references with the longest
// repository names and tags the domain accepts (256 and 128 characters).
func withReferences(rec events.StreamRecord, n int) events.StreamRecord {
	img := make(map[string]awsevents.DynamoDBAttributeValue, len(rec.Change.NewImage))
	for k, v := range rec.Change.NewImage {
		img[k] = v
	}
	first := img["references"].List()[0].Map()
	refs := make([]awsevents.DynamoDBAttributeValue, n)
	for i := range refs {
		m := make(map[string]awsevents.DynamoDBAttributeValue, len(first))
		for k, v := range first {
			m[k] = v
		}
		m["repository"] = awsevents.NewStringAttribute(fmt.Sprintf("team-%03d/", i) + strings.Repeat("r", 256-len("team-000/")))
		m["tag"] = awsevents.NewStringAttribute(fmt.Sprintf("v%03d-", i) + strings.Repeat("t", 128-len("v000-")))
		refs[i] = awsevents.NewMapAttribute(m)
	}
	img["references"] = awsevents.NewListAttribute(refs)
	rec.Change.NewImage = img
	return rec
}
