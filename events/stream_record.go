package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
)

// StreamRecord is a DynamoDB stream record as the Pipe hands it to its
// enrichment: aws-lambda-go's record, read more leniently.
//
// dynamodb.ApproximateCreationDateTime comes in two documented forms, and
// aws-lambda-go's SecondsEpochTime reads only the first, which would fail
// the whole batch on the second:
//   - UNIX epoch seconds, a JSON number (1428537600, or 1693997155.0), as in
//     the example events of the Lambda guide's "Using AWS Lambda with Amazon
//     DynamoDB" (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html)
//     and of "Amazon DynamoDB stream as a source for EventBridge Pipes"
//     (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-dynamodb.html);
//   - an ISO 8601 string: the DynamoDB Streams API reference gives the
//     field as a Timestamp "in UNIX epoch time format ... Some tools and SDKs
//     may convert this value to a different format, such as ISO 8601"
//     (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html).
//
// The string form is read as RFC 3339 (ISO 8601 with a zone, fractional
// seconds allowed). Either way the record marshals back as epoch seconds,
// aws-lambda-go's form.
type StreamRecord struct {
	awsevents.DynamoDBEventRecord
}

// Shadow types without aws-lambda-go's time decoding, so that the creation
// time can be read by hand.
type (
	plainStreamRecord awsevents.DynamoDBEventRecord
	plainStreamChange awsevents.DynamoDBStreamRecord
)

// UnmarshalJSON reads a record whose creation time is epoch seconds or an
// ISO 8601 string; any other creation time is an error wrapping
// domain.ErrInvalid that names the record.
func (r *StreamRecord) UnmarshalJSON(b []byte) error {
	// The outer "dynamodb" field and its ApproximateCreationDateTime sit
	// shallower than the embedded ones, so encoding/json fills them instead.
	var aux struct {
		plainStreamRecord
		Change struct {
			plainStreamChange
			Created json.RawMessage `json:"ApproximateCreationDateTime"`
		} `json:"dynamodb"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return fmt.Errorf("%w stream record: %s", domain.ErrInvalid, errLine(err))
	}
	created, err := creationTime(aux.Change.Created)
	if err != nil {
		return fmt.Errorf("%w stream record %s: ApproximateCreationDateTime %s: %s", domain.ErrInvalid, clipText(aux.EventID), clipText(string(aux.Change.Created)), err)
	}
	rec := awsevents.DynamoDBEventRecord(aux.plainStreamRecord)
	rec.Change = awsevents.DynamoDBStreamRecord(aux.Change.plainStreamChange)
	rec.Change.ApproximateCreationDateTime = awsevents.SecondsEpochTime{Time: created}
	r.DynamoDBEventRecord = rec
	return nil
}

// creationTime reads either form of ApproximateCreationDateTime; an absent
// or null one (the field is optional) is the zero time.
func creationTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return time.Time{}, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, fmt.Errorf("not a string: %s", errLine(err))
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("not an ISO 8601 time with a zone")
		}
		return t, nil
	}
	var secs awsevents.SecondsEpochTime
	if err := secs.UnmarshalJSON(raw); err != nil {
		return time.Time{}, fmt.Errorf("neither epoch seconds nor an ISO 8601 string")
	}
	// A time JSON cannot carry (RFC 3339 stops at year 9999) could not be
	// put on the bus, not even in a rejection; milliseconds taken for
	// seconds land there.
	if y := secs.Time.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("epoch seconds put it in year %d", y)
	}
	return secs.Time, nil
}
