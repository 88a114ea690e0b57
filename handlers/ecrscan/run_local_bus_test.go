package main

import (
	"encoding/json"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
)

// Every bus event has the one detail-type; the progress line tells them
// apart by eventType, and says why a record was rejected.
func TestBusLineNamesTheEventType(t *testing.T) {
	ev := testkit.CompletedEvent(testkit.Report(), testkit.MustRef(t, "team/app", "v1"))
	scan, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	r := events.NewRecordRejected(awsevents.DynamoDBEventRecord{EventID: "e1"}, errBad{})
	rejected, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		detail []byte
		want   []string
	}{
		{scan, []string{"ScanCompleted", `"Image Scan Event"`, short(ev.EventID)}},
		{rejected, []string{"RecordRejected", `"Image Scan Event"`, "item does not decode"}},
	}
	for _, tc := range tests {
		got := busLine(events.DetailType, tc.detail)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("line %q does not say %q", got, w)
			}
		}
	}
}

type errBad struct{}

func (errBad) Error() string { return "item does not decode" }
