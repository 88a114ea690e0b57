package dynamostore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/testkit"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func newIdempotencyStore(t *testing.T) (*dynamostore.IdempotencyStore, *testkit.Clock, *dynamodb.Client, string) {
	t.Helper()
	client := dynamoClient(t)
	name := mototest.UniqueName("idempotency")
	if err := mototest.CreateIdempotencyTable(context.Background(), client, name); err != nil {
		t.Fatal(err)
	}
	c := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, err := dynamostore.NewIdempotencyStore(client, name, dynamostore.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	return s, c, client, name
}

func TestIdempotencyStoreContract(t *testing.T) {
	testkit.TestIdempotencyStore(t, func(t *testing.T, now func() time.Time) func() domain.IdempotencyStore {
		client := dynamoClient(t)
		name := mototest.UniqueName("idempotency")
		if err := mototest.CreateIdempotencyTable(context.Background(), client, name); err != nil {
			t.Fatal(err)
		}
		return func() domain.IdempotencyStore {
			s, err := dynamostore.NewIdempotencyStore(client, name, dynamostore.WithClock(now))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func TestIdempotencyItem(t *testing.T) {
	ctx := context.Background()
	s, clk, client, table := newIdempotencyStore(t)
	get := func() map[string]types.AttributeValue {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table),
			Key:       map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: "k"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	if err := s.Start(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	item := get()
	if got := status(item); got != "IN_PROGRESS" {
		t.Errorf("status after Start = %q, want IN_PROGRESS", got)
	}
	if exp, ok := numberAttr(item, "expiresAt"); !ok || exp <= clk.Now().Unix() {
		t.Errorf("expiresAt after Start = %#v, want a Number after now", item["expiresAt"])
	}
	if err := s.Finish(ctx, "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	item = get()
	if got := status(item); got != "DONE" {
		t.Errorf("status after Finish = %q, want DONE", got)
	}
	if exp, ok := numberAttr(item, "expiresAt"); !ok || exp != clk.Now().Add(time.Hour).Unix() {
		t.Errorf("expiresAt after Finish = %#v, want N %d (epoch seconds)", item["expiresAt"], clk.Now().Add(time.Hour).Unix())
	}
}

func status(item map[string]types.AttributeValue) string {
	if s, ok := item["status"].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// lostRaceClient fails every conditional put without returning the item, as
// a table that does not honour ReturnValuesOnConditionCheckFailure would, and
// serves reads from a list of items, one per call.
type lostRaceClient struct {
	reads []map[string]types.AttributeValue
	puts  int
}

func (c *lostRaceClient) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	item := c.reads[0]
	if len(c.reads) > 1 {
		c.reads = c.reads[1:]
	}
	return &dynamodb.GetItemOutput{Item: item}, nil
}

func (c *lostRaceClient) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts++
	return nil, &types.ConditionalCheckFailedException{Message: aws.String("conflict")}
}

func (c *lostRaceClient) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return &dynamodb.DeleteItemOutput{}, nil
}

func TestIdempotencyStartReadsTheHolder(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	item := func(st string, leaseUntil, expiresAt time.Time) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"key":        &types.AttributeValueMemberS{Value: "k"},
			"status":     &types.AttributeValueMemberS{Value: st},
			"leaseUntil": number(leaseUntil.UnixMilli()),
			"expiresAt":  number(expiresAt.Unix()),
		}
	}
	later := now.Add(time.Hour)
	tests := []struct {
		name     string
		reads    []map[string]types.AttributeValue
		want     error
		wantPuts int
	}{
		{name: "done", reads: []map[string]types.AttributeValue{item("DONE", time.Time{}, later)}, want: domain.ErrAlreadyDone, wantPuts: 1},
		{name: "live lease", reads: []map[string]types.AttributeValue{item("IN_PROGRESS", later, later)}, want: domain.ErrInProgress, wantPuts: 1},
		{
			name:     "holder vanished, then a live one appeared",
			reads:    []map[string]types.AttributeValue{nil, item("IN_PROGRESS", later, later)},
			want:     domain.ErrInProgress,
			wantPuts: 2,
		},
		{
			name:     "holder keeps lapsing",
			reads:    []map[string]types.AttributeValue{item("IN_PROGRESS", now.Add(-time.Second), later)},
			want:     domain.ErrInProgress,
			wantPuts: dynamostore.StartAttempts,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := &lostRaceClient{reads: tc.reads}
			s, err := dynamostore.NewIdempotencyStore(client, "t", dynamostore.WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(context.Background(), "k", time.Minute); !errors.Is(err, tc.want) {
				t.Errorf("Start = %v, want %v", err, tc.want)
			}
			if client.puts != tc.wantPuts {
				t.Errorf("%d puts, want %d", client.puts, tc.wantPuts)
			}
		})
	}
}

func TestNewIdempotencyStoreRejectsMissingDependencies(t *testing.T) {
	tests := []struct {
		name   string
		client dynamostore.IdempotencyClient
		table  string
		opts   []dynamostore.IdempotencyOption
	}{
		{name: "nil client", table: "t"},
		{name: "empty table", client: &lostRaceClient{}},
		{name: "nil clock", client: &lostRaceClient{}, table: "t", opts: []dynamostore.IdempotencyOption{dynamostore.WithClock(nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := dynamostore.NewIdempotencyStore(tc.client, tc.table, tc.opts...); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func numberAttr(item map[string]types.AttributeValue, name string) (int64, bool) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}
