package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
)

// Source reads the records a replay re-emits, a page at a time.
type Source interface {
	// Count is how many records the run will read from the start, for
	// progress: an upper bound, since the source's filter can be coarser than
	// the selection.
	Count(ctx context.Context) (int, error)
	// Page reads the page that starts at pos.
	Page(ctx context.Context, pos Position) (Page, error)
}

// Position is where a source stands between pages. The zero value is the
// start.
type Position struct {
	// LastKey is the table scan's LastEvaluatedKey after the last page read,
	// as string attributes by name (the scans table's key is one string).
	LastKey map[string]string `json:"lastKey,omitempty"`
	// Offset counts the digests read, for a selection by digest.
	Offset int `json:"offset,omitempty"`
}

// Page is one page of records.
type Page struct {
	Records []domain.ScanRecord
	// Missing lists selected digests that have no record.
	Missing []domain.Digest
	// Next is the position after this page; Last says there is none.
	Next Position
	Last bool
}

// TableAPI is the part of the DynamoDB API the sources use.
type TableAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// NewSource returns the source for sel over the scans table: direct reads of
// the selected digests, or else a filtered scan of the whole table, pageSize
// items evaluated per page.
func NewSource(client TableAPI, table string, sel Selection, pageSize int) (Source, error) {
	if client == nil || table == "" {
		return nil, errors.New("replay source: nil client or empty table name")
	}
	if pageSize <= 0 {
		return nil, fmt.Errorf("replay source: page size %d must be positive", pageSize)
	}
	if len(sel.Digests) > 0 {
		return &digestSource{client: client, table: table, digests: dedupe(sel.Digests), pageSize: pageSize}, nil
	}
	return &tableSource{client: client, table: table, filter: scanFilter(sel), pageSize: int32(min(pageSize, 1<<20))}, nil
}

func dedupe(ds []domain.Digest) []domain.Digest {
	seen := map[domain.Digest]bool{}
	var out []domain.Digest
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// zoneSlack widens the scan filter's time bounds: completion times are stored
// as RFC 3339 text in the writer's zone (UTC on Lambda), and text compares
// like time only within one zone, so the filter keeps a margin of the widest
// UTC offset and Selection.Match decides exactly.
const zoneSlack = 14 * time.Hour

// filter is a scan filter expression with its placeholders.
type filter struct {
	expr   string
	names  map[string]string
	values map[string]types.AttributeValue
}

// scanFilter keeps records with an outcome (a completed scan, or one failed
// for good) whose completion text falls in the widened window.
func scanFilter(sel Selection) filter {
	f := filter{
		expr:  "(#status = :completed OR (#status = :failed AND #final = :true))",
		names: map[string]string{"#status": "status", "#final": "finalFailure"},
		values: map[string]types.AttributeValue{
			":completed": &types.AttributeValueMemberS{Value: string(domain.StatusCompleted)},
			":failed":    &types.AttributeValueMemberS{Value: string(domain.StatusFailed)},
			":true":      &types.AttributeValueMemberBOOL{Value: true},
		},
	}
	const second = "2006-01-02T15:04:05"
	if !sel.Since.IsZero() {
		f.expr += " AND #completedAt >= :since"
		f.names["#completedAt"] = "completedAt"
		f.values[":since"] = &types.AttributeValueMemberS{Value: sel.Since.UTC().Add(-zoneSlack).Format(second)}
	}
	if !sel.Until.IsZero() {
		f.expr += " AND #completedAt < :until"
		f.names["#completedAt"] = "completedAt"
		f.values[":until"] = &types.AttributeValueMemberS{Value: sel.Until.UTC().Add(zoneSlack + time.Second).Format(second)}
	}
	return f
}

type tableSource struct {
	client   TableAPI
	table    string
	filter   filter
	pageSize int32
}

func (s *tableSource) Count(ctx context.Context) (int, error) {
	n := 0
	var start map[string]types.AttributeValue
	for {
		out, err := s.client.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 aws.String(s.table),
			Select:                    types.SelectCount,
			FilterExpression:          aws.String(s.filter.expr),
			ExpressionAttributeNames:  s.filter.names,
			ExpressionAttributeValues: s.filter.values,
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return 0, fmt.Errorf("count records in %s: %w", s.table, err)
		}
		n += int(out.Count)
		if start = out.LastEvaluatedKey; len(start) == 0 {
			return n, nil
		}
	}
}

func (s *tableSource) Page(ctx context.Context, pos Position) (Page, error) {
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		Limit:                     aws.Int32(s.pageSize),
		FilterExpression:          aws.String(s.filter.expr),
		ExpressionAttributeNames:  s.filter.names,
		ExpressionAttributeValues: s.filter.values,
		// A replay re-announces what the table says now.
		ConsistentRead: aws.Bool(true),
	}
	if len(pos.LastKey) > 0 {
		in.ExclusiveStartKey = map[string]types.AttributeValue{}
		for k, v := range pos.LastKey {
			in.ExclusiveStartKey[k] = &types.AttributeValueMemberS{Value: v}
		}
	}
	out, err := s.client.Scan(ctx, in)
	if err != nil {
		return Page{}, fmt.Errorf("scan %s: %w", s.table, err)
	}
	var p Page
	for _, item := range out.Items {
		r, err := dynamostore.UnmarshalScanRecord(item)
		if err != nil {
			return Page{}, fmt.Errorf("scan %s: %w", s.table, err)
		}
		p.Records = append(p.Records, r)
	}
	if len(out.LastEvaluatedKey) == 0 {
		p.Last = true
		return p, nil
	}
	p.Next.LastKey = map[string]string{}
	for k, v := range out.LastEvaluatedKey {
		sv, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return Page{}, fmt.Errorf("scan %s: key attribute %s is a %T, want a string", s.table, k, v)
		}
		p.Next.LastKey[k] = sv.Value
	}
	return p, nil
}

type digestSource struct {
	client   TableAPI
	table    string
	digests  []domain.Digest
	pageSize int
}

func (s *digestSource) Count(context.Context) (int, error) { return len(s.digests), nil }

func (s *digestSource) Page(ctx context.Context, pos Position) (Page, error) {
	if pos.Offset < 0 || pos.Offset > len(s.digests) {
		return Page{}, fmt.Errorf("read digests: offset %d outside the %d selected", pos.Offset, len(s.digests))
	}
	end := min(pos.Offset+s.pageSize, len(s.digests))
	p := Page{Next: Position{Offset: end}, Last: end == len(s.digests)}
	for _, d := range s.digests[pos.Offset:end] {
		r, ok, err := GetRecord(ctx, s.client, s.table, d)
		if err != nil {
			return Page{}, err
		}
		if !ok {
			p.Missing = append(p.Missing, d)
			continue
		}
		p.Records = append(p.Records, r)
	}
	return p, nil
}

// RecordAPI is the part of the DynamoDB API that reads one record.
type RecordAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// GetRecord reads the record of d from the scans table with a strongly
// consistent read; false when there is none.
func GetRecord(ctx context.Context, client RecordAPI, table string, d domain.Digest) (domain.ScanRecord, bool, error) {
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"digest": &types.AttributeValueMemberS{Value: d.String()}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return domain.ScanRecord{}, false, fmt.Errorf("read record %s: %w", d, err)
	}
	if len(out.Item) == 0 {
		return domain.ScanRecord{}, false, nil
	}
	r, err := dynamostore.UnmarshalScanRecord(out.Item)
	if err != nil {
		return domain.ScanRecord{}, false, fmt.Errorf("read record %s: %w", d, err)
	}
	return r, true, nil
}
