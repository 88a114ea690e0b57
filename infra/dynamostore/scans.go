// Package dynamostore keeps the scanner's state in DynamoDB: the scans table
// (one record per image digest, whose stream is the event log) and the
// idempotency table that makes handlers' side effects happen once.
package dynamostore

import (
	"ecrscanner/infra/clock"

	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ScanClient is the part of the DynamoDB API the ScanStore uses.
type ScanClient interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// ErrContention is returned by ScanStore.Update when every attempt lost the
// race to another writer. It is retryable: redeliver the message.
var ErrContention = errors.New("scan record contention: too many conflicting writers")

const (
	// maxUpdateAttempts bounds Update's read-apply-write loop. Each lost race
	// means another writer succeeded, so reaching it takes this many writes to
	// one digest within the loop's lifetime.
	maxUpdateAttempts = 50
	backoffBase       = 5 * time.Millisecond
	backoffCap        = time.Second
)

// ScanStore is the DynamoDB ScanStore: one item per digest, keyed by the
// string attribute digest, written with optimistic concurrency on version.
// Safe for concurrent use across goroutines and processes.
type ScanStore struct {
	client  ScanClient
	table   string
	backoff func(attempt int) time.Duration
}

var _ domain.ScanStore = (*ScanStore)(nil)

// NewScanStore returns a store over the named table (see CreateScansTable).
func NewScanStore(client ScanClient, table string) (*ScanStore, error) {
	if client == nil {
		return nil, errors.New("dynamostore: nil DynamoDB client")
	}
	if table == "" {
		return nil, errors.New("dynamostore: empty scans table name")
	}
	return &ScanStore{client: client, table: table, backoff: backoff}, nil
}

// Get reads the record for d with a strongly consistent read, or returns
// domain.ErrNotFound.
func (s *ScanStore) Get(ctx context.Context, d domain.Digest) (*domain.Scan, error) {
	rec, found, err := s.load(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("get scan %s: %w", d, err)
	}
	if !found {
		return nil, fmt.Errorf("get scan %s: %w", d, domain.ErrNotFound)
	}
	return domain.ScanFromRecord(rec), nil
}

// Update implements domain.ScanStore. fn may run several times, each time on
// a freshly read Scan, so a closure must derive everything it reports from its
// last call. The written record carries version+1 (domain.Scan.Record); the
// *Scan fn saw keeps the version it was read with (re-Get to see the new one). When every attempt
// conflicts Update returns ErrContention.
func (s *ScanStore) Update(ctx context.Context, d domain.Digest, fn func(*domain.Scan) error) error {
	for attempt := range maxUpdateAttempts {
		if attempt > 0 {
			if err := clock.Sleep(ctx, s.backoff(attempt)); err != nil {
				return fmt.Errorf("update scan %s: %w", d, err)
			}
		}
		rec, found, err := s.load(ctx, d)
		if err != nil {
			return fmt.Errorf("update scan %s: %w", d, err)
		}
		scan := domain.NewScan(d)
		if found {
			scan = domain.ScanFromRecord(rec)
		}
		if err := fn(scan); err != nil {
			return err
		}
		err = s.put(ctx, scan)
		var conflict *types.ConditionalCheckFailedException
		if errors.As(err, &conflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("update scan %s: %w", d, err)
		}
		return nil
	}
	return fmt.Errorf("update scan %s: %w (%d attempts)", d, ErrContention, maxUpdateAttempts)
}

func (s *ScanStore) load(ctx context.Context, d domain.Digest) (domain.ScanRecord, bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{attrDigest: &types.AttributeValueMemberS{Value: string(d)}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return domain.ScanRecord{}, false, err
	}
	if len(out.Item) == 0 {
		return domain.ScanRecord{}, false, nil
	}
	rec, err := UnmarshalScanRecord(out.Item)
	if err != nil {
		return domain.ScanRecord{}, false, err
	}
	return rec, true, nil
}

// put writes the scan's record on the condition that the stored item is still
// the one it was read from: absent for a new scan, otherwise at the version
// read. domain.Scan.Record carries that version plus one.
func (s *ScanStore) put(ctx context.Context, scan *domain.Scan) error {
	item, err := MarshalScanRecord(scan.Record())
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      item,
	}
	if scan.IsNew() {
		in.ConditionExpression = aws.String("attribute_not_exists(#d)")
		in.ExpressionAttributeNames = map[string]string{"#d": attrDigest}
	} else {
		in.ConditionExpression = aws.String("#v = :read")
		in.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":read": &types.AttributeValueMemberN{Value: strconv.FormatInt(scan.Version(), 10)},
		}
	}
	_, err = s.client.PutItem(ctx, in)
	return err
}

// backoff is full jitter over an exponentially growing window, so that
// writers that just collided do not collide again in lockstep.
func backoff(attempt int) time.Duration {
	window := backoffBase << min(attempt, 6)
	if window > backoffCap {
		window = backoffCap
	}
	return rand.N(window) + time.Millisecond
}
