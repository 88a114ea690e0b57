package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// IdempotencyClient is the part of the DynamoDB API the IdempotencyStore uses.
type IdempotencyClient interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Idempotency item attributes: key (S, the table key), status (S), leaseUntil
// (N, epoch milliseconds, set while in progress) and expiresAt (N, epoch
// seconds, the TTL attribute).
const (
	attrKey        = "key"
	attrStatus     = "status"
	attrLeaseUntil = "leaseUntil"
	attrHolder     = "holder"

	statusInProgress = "IN_PROGRESS"
	statusDone       = "DONE"
)

// startAttempts bounds Start's retries when the item it lost to vanished
// before it could be read (an Abandon or TTL deletion in between).
const startAttempts = 3

// IdempotencyStore is the DynamoDB domain.IdempotencyStore. Safe for
// concurrent use across goroutines and processes.
type IdempotencyStore struct {
	client IdempotencyClient
	table  string
	now    func() time.Time

	// held maps each key this store started, and has not finished or
	// abandoned, to the holder token it wrote, so that Abandon removes only
	// its own marker and never one a later delivery took over.
	mu   sync.Mutex
	held map[string]string
}

var _ domain.IdempotencyStore = (*IdempotencyStore)(nil)

// IdempotencyOption configures an IdempotencyStore.
type IdempotencyOption func(*IdempotencyStore)

// WithClock replaces time.Now, for tests that move time past a lease or a
// retention period.
func WithClock(now func() time.Time) IdempotencyOption {
	return func(s *IdempotencyStore) { s.now = now }
}

// NewIdempotencyStore returns a store over the named table (see
// CreateIdempotencyTable).
func NewIdempotencyStore(client IdempotencyClient, table string, opts ...IdempotencyOption) (*IdempotencyStore, error) {
	if client == nil {
		return nil, errors.New("dynamostore: nil DynamoDB client")
	}
	if table == "" {
		return nil, errors.New("dynamostore: empty idempotency table name")
	}
	s := &IdempotencyStore{client: client, table: table, now: time.Now, held: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		return nil, errors.New("dynamostore: nil clock")
	}
	return s, nil
}

// Start implements domain.IdempotencyStore. The marker is written only if no
// item exists, the existing one is an in-progress marker whose lease has
// passed, or the existing one has outlived its retention (TTL deletion lags
// by up to days, so expiry is checked rather than trusted). Otherwise it
// returns an error wrapping domain.ErrAlreadyDone or domain.ErrInProgress,
// read from the item that failed the condition.
func (s *IdempotencyStore) Start(ctx context.Context, key string, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("start %s: lease %v must be positive", key, lease)
	}
	now := s.now()
	leaseUntil := now.Add(lease)
	holder := domain.NewID()
	in := &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			attrKey:        &types.AttributeValueMemberS{Value: key},
			attrStatus:     &types.AttributeValueMemberS{Value: statusInProgress},
			attrHolder:     &types.AttributeValueMemberS{Value: holder},
			attrLeaseUntil: number(leaseUntil.UnixMilli()),
			// A crashed attempt's marker is cleaned up once it can no longer
			// block anyone.
			attrExpiresAt: number(leaseUntil.Unix() + 1),
		},
		ConditionExpression: aws.String("attribute_not_exists(#k) OR (#s = :inProgress AND #l < :nowMillis) OR #e < :nowSeconds"),
		ExpressionAttributeNames: map[string]string{
			"#k": attrKey, "#s": attrStatus, "#l": attrLeaseUntil, "#e": attrExpiresAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inProgress": &types.AttributeValueMemberS{Value: statusInProgress},
			":nowMillis":  number(now.UnixMilli()),
			":nowSeconds": number(now.Unix()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	// Held from before the write: a write whose outcome is unknown (a
	// timeout) may have landed, and Abandon can then still drop it, since
	// it deletes only this holder's marker.
	s.mu.Lock()
	s.held[key] = holder
	s.mu.Unlock()
	for range startAttempts {
		_, err := s.client.PutItem(ctx, in)
		var conflict *types.ConditionalCheckFailedException
		if !errors.As(err, &conflict) {
			if err != nil {
				return fmt.Errorf("start %s: %w", key, err)
			}
			return nil
		}
		current := conflict.Item
		if len(current) == 0 {
			if current, err = s.read(ctx, key); err != nil {
				return fmt.Errorf("start %s: %w", key, err)
			}
		}
		if ours(current, holder) {
			// An earlier try of this very write landed and only its reply was
			// lost; the SDK's retry then failed the condition against it.
			return nil
		}
		if err := blocking(current, now); err != nil {
			s.release(key)
			return fmt.Errorf("start %s: %w", key, err)
		}
		// The holder is gone or lapsed since the condition failed: try again.
	}
	s.release(key)
	return fmt.Errorf("start %s: %w", key, domain.ErrInProgress)
}

// ours reports whether item is the in-progress marker this holder wrote.
func ours(item map[string]types.AttributeValue, holder string) bool {
	h, _ := item[attrHolder].(*types.AttributeValueMemberS)
	st, _ := item[attrStatus].(*types.AttributeValueMemberS)
	return h != nil && h.Value == holder && st != nil && st.Value == statusInProgress
}

// Finish implements domain.IdempotencyStore. It overwrites whatever marker is
// there: the effect has happened, whoever held the lease.
func (s *IdempotencyStore) Finish(ctx context.Context, key string, retention time.Duration) error {
	s.release(key)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			attrKey:       &types.AttributeValueMemberS{Value: key},
			attrStatus:    &types.AttributeValueMemberS{Value: statusDone},
			attrExpiresAt: number(s.now().Add(retention).Unix()),
		},
	})
	if err != nil {
		return fmt.Errorf("finish %s: %w", key, err)
	}
	return nil
}

// Abandon implements domain.IdempotencyStore. It deletes the marker only if
// it is still this store's in-progress marker: a late Abandon cannot erase a
// Finish, nor the marker of a delivery that took over after this one's lease
// ran out. A key this store did not start, or a marker already gone, is not
// an error.
func (s *IdempotencyStore) Abandon(ctx context.Context, key string) error {
	holder, ok := s.release(key)
	if !ok {
		return nil
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      map[string]types.AttributeValue{attrKey: &types.AttributeValueMemberS{Value: key}},
		ConditionExpression:      aws.String("#s = :inProgress AND #h = :holder"),
		ExpressionAttributeNames: map[string]string{"#s": attrStatus, "#h": attrHolder},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inProgress": &types.AttributeValueMemberS{Value: statusInProgress},
			":holder":     &types.AttributeValueMemberS{Value: holder},
		},
	})
	var conflict *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &conflict) {
		return fmt.Errorf("abandon %s: %w", key, err)
	}
	return nil
}

// release forgets that this store holds key and returns the holder token it
// wrote.
func (s *IdempotencyStore) release(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.held[key]
	delete(s.held, key)
	return h, ok
}

func (s *IdempotencyStore) read(ctx context.Context, key string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{attrKey: &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// blocking says why item keeps Start from taking key at now: ErrAlreadyDone,
// ErrInProgress, or nil when it no longer blocks (absent, expired, or an
// in-progress marker past its lease). An item returned by a failed condition
// always blocks; one read afterwards may not.
func blocking(item map[string]types.AttributeValue, now time.Time) error {
	st, ok := item[attrStatus].(*types.AttributeValueMemberS)
	if !ok {
		return nil
	}
	if exp, ok := intAttr(item, attrExpiresAt); ok && exp < now.Unix() {
		return nil
	}
	switch st.Value {
	case statusDone:
		return domain.ErrAlreadyDone
	case statusInProgress:
		if until, ok := intAttr(item, attrLeaseUntil); ok && until < now.UnixMilli() {
			return nil
		}
		return domain.ErrInProgress
	}
	return fmt.Errorf("idempotency item has unknown status %q", st.Value)
}

func intAttr(item map[string]types.AttributeValue, name string) (int64, bool) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
