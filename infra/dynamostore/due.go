package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"ecrscanner/domain"
)

// The sweep's sparse index on the scans table, as the template declares
// it: only completed records carry its keys (domain.Scan sets them in
// Complete and clears them otherwise), so a Query on it reads completed
// records only, never the whole table. It projects the references besides
// the keys: what the sweep needs to find each image in ECR.
const (
	RescanIndex      = "RescanIndex"
	RescanShardAttr  = "rescanShard"
	RescanFromAttr   = "rescanFrom"
	rescanProjection = "references"
)

// QueryClient is the part of the DynamoDB API the sweep reads with.
type QueryClient interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// DueScan is a completed record due for a rescan, as the index holds it.
type DueScan struct {
	Digest      domain.Digest
	CompletedAt time.Time
	References  []domain.ImageRef
}

// DueScans reads, shard by shard, the completed records whose scan
// completed before a cutoff.
type DueScans struct {
	client QueryClient
	table  string
	// PageSize is the Limit of each Query (items per page).
	PageSize int32
}

// NewDueScans reads the scans table's RescanIndex.
func NewDueScans(client QueryClient, table string) (*DueScans, error) {
	if client == nil || table == "" {
		return nil, errors.New("due scans: client and table are required")
	}
	return &DueScans{client: client, table: table, PageSize: 100}, nil
}

// Each calls fn for every record of shard completed before cutoff, oldest
// first, one Query page at a time (a page is at most 1 MB, and PageSize
// items: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html).
// Reads are eventually consistent, as on any global secondary index: a
// record completed a moment ago may be missed until the next run, which is
// harmless. An error fn returns stops the walk and is returned.
func (q *DueScans) Each(ctx context.Context, shard int, cutoff time.Time, fn func(DueScan) error) error {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(q.table),
		IndexName:              aws.String(RescanIndex),
		KeyConditionExpression: aws.String("#s = :s AND #f < :c"),
		ExpressionAttributeNames: map[string]string{
			"#s": RescanShardAttr, "#f": RescanFromAttr,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": &types.AttributeValueMemberS{Value: strconv.Itoa(shard)},
			":c": &types.AttributeValueMemberS{Value: cutoff.UTC().Format(domain.RescanTimeFormat)},
		},
		Limit: aws.Int32(q.PageSize),
	}
	p := dynamodb.NewQueryPaginator(q.client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s of %s, shard %d: %w", RescanIndex, q.table, shard, err)
		}
		for _, item := range out.Items {
			d, err := dueScan(item)
			if err != nil {
				return fmt.Errorf("%s of %s, shard %d: %w", RescanIndex, q.table, shard, err)
			}
			if err := fn(d); err != nil {
				return err
			}
		}
	}
	return nil
}

func dueScan(item map[string]types.AttributeValue) (DueScan, error) {
	rec, err := UnmarshalScanRecord(item)
	if err != nil {
		return DueScan{}, err
	}
	at, err := time.Parse(domain.RescanTimeFormat, rec.RescanFrom)
	if err != nil {
		return DueScan{}, fmt.Errorf("record %s: %s %q: %w", rec.Digest, RescanFromAttr, rec.RescanFrom, err)
	}
	d := DueScan{Digest: rec.Digest, CompletedAt: at}
	for _, r := range rec.References {
		d.References = append(d.References, r.ImageRef)
	}
	return d, nil
}

// ScanKey is the scans table's key of digest d.
func ScanKey(d domain.Digest) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrDigest: &types.AttributeValueMemberS{Value: d.String()}}
}
