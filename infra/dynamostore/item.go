package dynamostore

import (
	"fmt"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item attribute names the store's expressions refer to. They follow the json
// tags of domain.ScanRecord, which define the item format.
const (
	attrDigest    = "digest"
	attrVersion   = "version"
	attrExpiresAt = "expiresAt"
)

// The item format is the record's JSON shape: attribute names from the json
// tags, enums such as domain.Severity and times as their text form (strings),
// other numbers as N. The json options omitzero and the SDK-unknown ones are
// not understood by attributevalue: a zero time (completedAt) is stored as
// "0001-01-01T00:00:00Z" and reads back as the zero time.
// The tables' schema, which the CloudFormation template declares and tests
// that create tables of their own must follow: the scans table's hash key,
// the idempotency table's hash key and the TTL attribute of both.
const (
	ScansKey       = attrDigest
	IdempotencyKey = attrKey
	TTLAttribute   = attrExpiresAt
)

var (
	encoder = attributevalue.NewEncoder(func(o *attributevalue.EncoderOptions) {
		o.TagKey = "json"
		o.UseEncodingMarshalers = true
	})
	decoder = attributevalue.NewDecoder(func(o *attributevalue.DecoderOptions) {
		o.TagKey = "json"
		o.UseEncodingUnmarshalers = true
	})
)

// MarshalScanRecord encodes a record as a scans-table item.
func MarshalScanRecord(r domain.ScanRecord) (map[string]types.AttributeValue, error) {
	av, err := encoder.Encode(r)
	if err != nil {
		return nil, fmt.Errorf("marshal scan record %s: %w", r.Digest, err)
	}
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		return nil, fmt.Errorf("marshal scan record %s: encoded as %T, want a map", r.Digest, av)
	}
	return m.Value, nil
}

// UnmarshalScanRecord decodes a scans-table item, including the NewImage and
// OldImage of the table's stream records (convert those with
// attributevalue.FromDynamoDBStreamsMap, or attributevalue.UnmarshalMapJSON
// for DynamoDB JSON as the Pipe delivers it).
func UnmarshalScanRecord(item map[string]types.AttributeValue) (domain.ScanRecord, error) {
	var r domain.ScanRecord
	if err := decoder.Decode(&types.AttributeValueMemberM{Value: item}, &r); err != nil {
		return domain.ScanRecord{}, fmt.Errorf("unmarshal scan record: %w", err)
	}
	return r, nil
}
