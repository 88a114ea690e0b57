package dynamostore_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/mototest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// clock is a settable time source shared by a test and its store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newIdempotencyStore(t *testing.T) (*dynamostore.IdempotencyStore, *clock, *dynamodb.Client, string) {
	t.Helper()
	client := dynamoClient(t)
	name := mototest.UniqueName("idempotency")
	if err := mototest.CreateIdempotencyTable(context.Background(), client, name); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, err := dynamostore.NewIdempotencyStore(client, name, dynamostore.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	return s, c, client, name
}

func TestIdempotencyStore(t *testing.T) {
	const (
		lease     = time.Minute
		retention = 24 * time.Hour
	)
	type step struct {
		do      string // start, finish, abandon, advance
		advance time.Duration
		want    error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "first start", steps: []step{{do: "start"}}},
		{name: "duplicate while in progress", steps: []step{
			{do: "start"}, {do: "start", want: domain.ErrInProgress},
		}},
		{name: "duplicate after finish", steps: []step{
			{do: "start"}, {do: "finish"}, {do: "start", want: domain.ErrAlreadyDone},
		}},
		{name: "expired lease is taken over", steps: []step{
			{do: "start"}, {do: "advance", advance: lease + time.Second}, {do: "start"},
			{do: "start", want: domain.ErrInProgress},
		}},
		{name: "lease still live just before expiry", steps: []step{
			{do: "start"}, {do: "advance", advance: lease - time.Second}, {do: "start", want: domain.ErrInProgress},
		}},
		{name: "done outlives leases", steps: []step{
			{do: "start"}, {do: "finish"}, {do: "advance", advance: lease * 10}, {do: "start", want: domain.ErrAlreadyDone},
		}},
		{name: "done expires after retention", steps: []step{
			{do: "start"}, {do: "finish"}, {do: "advance", advance: retention + time.Second}, {do: "start"},
		}},
		{name: "abandon lets a retry start at once", steps: []step{
			{do: "start"}, {do: "abandon"}, {do: "start"},
		}},
		{name: "abandon does not undo finish", steps: []step{
			{do: "start"}, {do: "finish"}, {do: "abandon"}, {do: "start", want: domain.ErrAlreadyDone},
		}},
		{name: "abandon of an unknown key", steps: []step{{do: "abandon"}, {do: "start"}}},
		{name: "finish without start", steps: []step{{do: "finish"}, {do: "start", want: domain.ErrAlreadyDone}}},
	}
	s, clk, _, _ := newIdempotencyStore(t)
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "handler#" + mototest.UniqueName("event")
			for i, st := range tc.steps {
				var err error
				switch st.do {
				case "start":
					err = s.Start(ctx, key, lease)
				case "finish":
					err = s.Finish(ctx, key, retention)
				case "abandon":
					err = s.Abandon(ctx, key)
				case "advance":
					clk.Advance(st.advance)
				}
				if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
					t.Fatalf("step %d (%s) = %v, want %v", i, st.do, err, st.want)
				}
			}
		})
	}
}

func TestIdempotencyConcurrentStart(t *testing.T) {
	s, _, _, _ := newIdempotencyStore(t)
	const n = 20
	var started, inProgress atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			switch err := s.Start(context.Background(), "k", time.Minute); {
			case err == nil:
				started.Add(1)
			case errors.Is(err, domain.ErrInProgress):
				inProgress.Add(1)
			default:
				t.Errorf("Start = %v", err)
			}
		})
	}
	wg.Wait()
	if started.Load() != 1 || inProgress.Load() != n-1 {
		t.Errorf("%d started, %d in progress; want 1 and %d", started.Load(), inProgress.Load(), n-1)
	}
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

// A delivery whose lease ran out and was taken over must not, when it finally
// fails, drop the marker of the delivery that took over.
func TestIdempotencyAbandonOnlyDropsItsOwnMarker(t *testing.T) {
	first, clk, client, table := newIdempotencyStore(t)
	second, err := dynamostore.NewIdempotencyStore(client, table, dynamostore.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := first.Start(ctx, "archive#e1", time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // the first delivery stalls past its lease
	if err := second.Start(ctx, "archive#e1", time.Minute); err != nil {
		t.Fatalf("takeover: %v", err)
	}
	if err := first.Abandon(ctx, "archive#e1"); err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx, "archive#e1", time.Minute); !errors.Is(err, domain.ErrInProgress) {
		t.Fatalf("after the stale Abandon: Start = %v; want the second delivery's marker still in progress", err)
	}
	if err := second.Abandon(ctx, "archive#e1"); err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx, "archive#e1", time.Minute); err != nil {
		t.Errorf("after the holder's own Abandon: Start = %v; want the key free", err)
	}
}
