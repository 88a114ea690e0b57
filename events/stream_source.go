package events

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrOtherTable: a stream record comes from a table other than the scans
// table. It never happens with the deployed Pipe, whose source is the scans
// table's stream, so it means the Pipe or the enrichment is misconfigured:
// the record is not dropped but fails its batch, which the Pipe retries and
// finally dead-letters where an operator sees it.
var ErrOtherTable = errors.New("stream record of another table")

// tableARN is a DynamoDB table's ARN; a table name is 3-255 of
// [a-zA-Z0-9_.-] (DynamoDB Streams API reference, Stream.TableName:
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_Stream.html).
var tableARN = regexp.MustCompile(`^arn:[a-z-]+:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[a-zA-Z0-9_.-]{3,255}$`)

// ScansStream recognises the stream records of the scans table.
type ScansStream struct {
	prefix string // the table's ARN + "/stream/"
}

// NewScansStream accepts the records of any stream of the table whose ARN is
// given. A stream's ARN is its table's ARN followed by /stream/<label>
// ("arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/stream/${StreamLabel}",
// Service Authorization Reference, resource types defined by Amazon DynamoDB:
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html).
// The table, not one stream label, is configured: the label is only known
// once the stream exists, and a Pipe is tied to one stream anyway (a
// re-enabled stream gets a new ARN and needs a new Pipe: "Amazon DynamoDB
// stream as a source for EventBridge Pipes",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-dynamodb.html).
func NewScansStream(scansTableARN string) (ScansStream, error) {
	if !tableARN.MatchString(scansTableARN) {
		return ScansStream{}, fmt.Errorf("scans table ARN %q: want arn:<partition>:dynamodb:<region>:<account>:table/<name>", clipText(scansTableARN))
	}
	return ScansStream{prefix: scansTableARN + "/stream/"}, nil
}

// Check returns an error wrapping ErrOtherTable unless eventSourceARN, the
// eventSourceARN of the record with ID eventID, is a stream of the scans
// table.
func (s ScansStream) Check(eventID, eventSourceARN string) error {
	if s.prefix == "" {
		return errors.New("scans stream not configured")
	}
	if label, ok := strings.CutPrefix(eventSourceARN, s.prefix); !ok || label == "" || strings.Contains(label, "/") {
		return fmt.Errorf("%w: record %s comes from %q, not from a stream of %s; is the Pipe's source the scans table?",
			ErrOtherTable, clipText(eventID), clipText(eventSourceARN), strings.TrimSuffix(s.prefix, "/stream/"))
	}
	return nil
}
