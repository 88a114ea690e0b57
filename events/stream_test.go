package events_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/testkit"
)

const busStreamARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/ecr-image-scans/stream/2024-06-01T00:00:00.000"

// streamImage renders r as the store writes it (dynamostore.MarshalScanRecord)
// in DynamoDB's JSON form, which the stream, the Pipe and Lambda carry.
func streamImage(t *testing.T, r domain.ScanRecord) map[string]awsevents.DynamoDBAttributeValue {
	t.Helper()
	item, err := dynamostore.MarshalScanRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := attributevalue.MarshalMapJSON(item)
	if err != nil {
		t.Fatal(err)
	}
	var img map[string]awsevents.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatal(err)
	}
	return img
}

// streamRecord is the stream record of a write of newRec over oldRec (either
// may be nil: an insert has no old image, a removal no new one), with the
// table's NEW_AND_OLD_IMAGES view.
func streamRecord(t *testing.T, id, name string, oldRec, newRec *domain.ScanRecord, at time.Time) awsevents.DynamoDBEventRecord {
	t.Helper()
	rec := awsevents.DynamoDBEventRecord{
		AWSRegion:      busRegion,
		EventID:        id,
		EventName:      name,
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: busStreamARN,
		Change: awsevents.DynamoDBStreamRecord{
			ApproximateCreationDateTime: awsevents.SecondsEpochTime{Time: at},
			SequenceNumber:              "4000000000001234567" + id[:3],
			StreamViewType:              "NEW_AND_OLD_IMAGES",
		},
	}
	var digest domain.Digest
	if oldRec != nil {
		rec.Change.OldImage = streamImage(t, *oldRec)
		digest = oldRec.Digest
	}
	if newRec != nil {
		rec.Change.NewImage = streamImage(t, *newRec)
		digest = newRec.Digest
	}
	rec.Change.Keys = map[string]awsevents.DynamoDBAttributeValue{"digest": awsevents.NewStringAttribute(string(digest))}
	for _, img := range []map[string]awsevents.DynamoDBAttributeValue{rec.Change.Keys, rec.Change.NewImage, rec.Change.OldImage} {
		if img != nil {
			b, err := json.Marshal(img)
			if err != nil {
				t.Fatal(err)
			}
			rec.Change.SizeBytes += int64(len(b))
		}
	}
	return rec
}

// streamFixtures are the stream records under testdata/bus, built from the
// bus history; stream-garbage.json is written by hand.
func streamFixtures(t *testing.T) map[string]awsevents.DynamoDBEventRecord {
	t.Helper()
	recs := newBusRecords(t)
	ttl := streamRecord(t, "f06b2c1d9e8a7b6c5d4e3f2a1b0c9d8e", "REMOVE", &recs.referenced, nil, time.Unix(recs.referenced.ExpiresAt, 0).UTC().Add(40*time.Minute))
	ttl.UserIdentity = &awsevents.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	return map[string]awsevents.DynamoDBEventRecord{
		"stream-scan-started.json":     streamRecord(t, "a1b2c3d4e5f60718293a4b5c6d7e8f90", "INSERT", nil, &recs.started, recs.started.Event.At),
		"stream-scan-completed.json":   streamRecord(t, "b2c3d4e5f60718293a4b5c6d7e8f90a1", "MODIFY", &recs.queued, &recs.completed, recs.completed.Event.At),
		"stream-image-referenced.json": streamRecord(t, "c3d4e5f60718293a4b5c6d7e8f90a1b2", "MODIFY", &recs.completed, &recs.referenced, recs.referenced.Event.At),
		"stream-scan-failed.json":      streamRecord(t, "d4e5f60718293a4b5c6d7e8f90a1b2c3", "MODIFY", &recs.failedStarted, &recs.failed, recs.failed.Event.At),
		"stream-remove.json":           ttl,
	}
}

// The fixtures pin the item format the store writes: a change to it shows
// up here, and regenerating them (-update) carries it to handlers/enrich.
func TestStreamFixtures(t *testing.T) {
	for name, rec := range streamFixtures(t) {
		t.Run(name, func(t *testing.T) {
			b, err := json.MarshalIndent(rec, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join(busDir, name), append(b, '\n'))
		})
	}
}

func readStreamFixture(t *testing.T, name string) awsevents.DynamoDBEventRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(busDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var rec awsevents.DynamoDBEventRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rec
}

func TestFromStreamRecordFixtures(t *testing.T) {
	tests := []struct {
		fixture   string
		eventType domain.EventType
		golden    string
		wantErr   error
		msg       string
	}{
		{fixture: "stream-scan-completed.json", eventType: domain.EventScanCompleted, golden: "scan-completed.golden.json"},
		{fixture: "stream-image-referenced.json", eventType: domain.EventImageReferenced, golden: "image-referenced.golden.json"},
		{fixture: "stream-scan-failed.json", eventType: domain.EventScanFailed, golden: "scan-failed.golden.json"},
		{fixture: "stream-scan-started.json", wantErr: events.ErrNotPublished, msg: `"ScanStarted"`},
		{fixture: "stream-remove.json", wantErr: events.ErrNotPublished, msg: "REMOVE"},
		{fixture: "stream-garbage.json", wantErr: domain.ErrInvalid, msg: "stream record 0badc0de0badc0de0badc0de0badc0de"},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			ev, err := events.FromStreamRecord(readStreamFixture(t, tc.fixture))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want one wrapping %v", err, tc.wantErr)
				}
				if tc.wantErr == domain.ErrInvalid && errors.Is(err, events.ErrNotPublished) {
					t.Errorf("undecodable record taken for an unpublished one: %v", err)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not say %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.EventType != tc.eventType {
				t.Errorf("event type %q, want %q", ev.EventType, tc.eventType)
			}
			got, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			// The stream record becomes exactly the event NewScanEvent makes
			// of the record it was written from.
			want, err := os.ReadFile(filepath.Join(busDir, tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			if string(append(got, '\n')) != string(want) {
				t.Errorf("event differs from %s:\n%s", tc.golden, got)
			}
		})
	}
}

func TestFromStreamRecordEventNames(t *testing.T) {
	recs := newBusRecords(t)
	tests := []struct {
		name    string
		rec     awsevents.DynamoDBEventRecord
		wantErr error
	}{
		{name: "insert", rec: streamRecord(t, "e1000000000000000000000000000001", "INSERT", nil, &recs.failed, recs.failed.Event.At)},
		{name: "modify", rec: streamRecord(t, "e1000000000000000000000000000002", "MODIFY", &recs.failedStarted, &recs.failed, recs.failed.Event.At)},
		{name: "remove", rec: streamRecord(t, "e1000000000000000000000000000003", "REMOVE", &recs.failed, nil, recs.failed.Event.At), wantErr: events.ErrNotPublished},
		{name: "remove that still carries a new image", rec: func() awsevents.DynamoDBEventRecord {
			r := streamRecord(t, "e1000000000000000000000000000004", "REMOVE", &recs.failed, &recs.failed, recs.failed.Event.At)
			return r
		}(), wantErr: events.ErrNotPublished},
		{name: "unknown event name", rec: func() awsevents.DynamoDBEventRecord {
			r := streamRecord(t, "e1000000000000000000000000000005", "MODIFY", nil, &recs.failed, recs.failed.Event.At)
			r.EventName = "UPSERT"
			return r
		}(), wantErr: events.ErrNotPublished},
		{name: "modify without a new image (keys-only view)", rec: func() awsevents.DynamoDBEventRecord {
			r := streamRecord(t, "e1000000000000000000000000000006", "MODIFY", nil, &recs.failed, recs.failed.Event.At)
			r.Change.NewImage, r.Change.StreamViewType = nil, "KEYS_ONLY"
			return r
		}(), wantErr: domain.ErrInvalid},
		{name: "modify to a bookkeeping event", rec: streamRecord(t, "e1000000000000000000000000000007", "MODIFY", &recs.started, &recs.queued, recs.queued.Event.At), wantErr: events.ErrNotPublished},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := events.FromStreamRecord(tc.rec)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want one wrapping %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.EventID != recs.failed.Event.ID || ev.EventType != domain.EventScanFailed {
				t.Errorf("event %q %q, want the new image's", ev.EventID, ev.EventType)
			}
		})
	}
}

// The shapes the record takes through its life, each with the fields that
// are easy to lose on the way: times (zero ones included), ImageRef embedded
// in Reference, optional pointers, enums stored as text and numbers.
func TestDecodeScanImageRoundTrip(t *testing.T) {
	recs := newBusRecords(t)
	partial := recs.failed
	partial.Summary = &domain.Summary{
		Vulnerabilities: domain.Counts{High: 2, Unknown: 1},
		SecretSeverity:  domain.Counts{Critical: 1},
		Secrets:         1,
		Partial:         true,
		Top:             []domain.Vulnerability{{QID: "1", Severity: domain.SeverityHigh, CVSS3: 8.1, CVEs: []string{"CVE-2024-1"}}},
	}
	partial.Report = &domain.ReportLocation{Bucket: "b", Key: "k"}
	partial.Failure = &domain.Failure{Class: domain.FailurePartialReport, Reason: "exit 40 ü \"quoted\"", ExitCode: 40}
	noRefs := recs.started
	noRefs.References = nil
	subsecond := recs.started
	subsecond.StartedAt = subsecond.StartedAt.Add(123456789 * time.Nanosecond)
	subsecond.Lease = &domain.Lease{Owner: "scan-a1", Expires: subsecond.StartedAt.Add(15 * time.Minute)}

	tests := []struct {
		name string
		rec  domain.ScanRecord
	}{
		{name: "scanning with a lease and no completion time", rec: recs.started},
		{name: "references queued", rec: recs.queued},
		{name: "completed with summary and report", rec: recs.completed},
		{name: "image referenced", rec: recs.referenced},
		{name: "failed for good", rec: recs.failed},
		{name: "failed with a partial result", rec: partial},
		{name: "no references", rec: noRefs},
		{name: "sub-second times", rec: subsecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := streamImage(t, tc.rec)
			// Through JSON, as the Pipe hands it over.
			b, err := json.Marshal(img)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]awsevents.DynamoDBAttributeValue
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			got, err := events.DecodeScanImage(back)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Errorf("round trip changed the record:\n got %+v\nwant %+v", got, tc.rec)
			}
			// The store reads the same JSON to the same record.
			item, err := attributevalue.UnmarshalMapJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			viaStore, err := dynamostore.UnmarshalScanRecord(item)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, viaStore) {
				t.Errorf("stream decoding and the store disagree:\nstream %+v\n store %+v", got, viaStore)
			}
		})
	}
}

func TestDecodeScanImageRefuses(t *testing.T) {
	good := streamImage(t, newBusRecords(t).completed)
	with := func(k string, v awsevents.DynamoDBAttributeValue) map[string]awsevents.DynamoDBAttributeValue {
		m := make(map[string]awsevents.DynamoDBAttributeValue, len(good))
		for key, val := range good {
			m[key] = val
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		img  map[string]awsevents.DynamoDBAttributeValue
		msg  string
	}{
		{name: "nil image", img: nil, msg: "no image"},
		{name: "empty image", img: map[string]awsevents.DynamoDBAttributeValue{}, msg: "no image"},
		{name: "number where a string belongs", img: with("scanId", awsevents.NewNumberAttribute("42")), msg: "scan item"},
		{name: "string where a number belongs", img: with("attempts", awsevents.NewStringAttribute("three")), msg: "scan item"},
		{name: "unreadable time", img: with("startedAt", awsevents.NewStringAttribute("yesterday")), msg: "scan item"},
		{name: "unknown severity", img: with("summary", awsevents.NewMapAttribute(map[string]awsevents.DynamoDBAttributeValue{
			"top": awsevents.NewListAttribute([]awsevents.DynamoDBAttributeValue{awsevents.NewMapAttribute(map[string]awsevents.DynamoDBAttributeValue{
				"severity": awsevents.NewStringAttribute("DIRE"),
			})}),
		})), msg: "scan item"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.DecodeScanImage(tc.img)
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error %v, want one wrapping domain.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}
