package dynamostore_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/testkit"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestScanStoreContract(t *testing.T) {
	testkit.TestScanStore(t, func(t *testing.T) domain.ScanStore { return newDynamoScanStore(t) })
}

func TestScanStoreItemOnTable(t *testing.T) {
	ctx := context.Background()
	client, table, _ := newScansTable(t)
	s, err := dynamostore.NewScanStore(client, table)
	if err != nil {
		t.Fatal(err)
	}
	d := testkit.RandomDigest(t)
	if _, err := testkit.Claim(ctx, s, testkit.MustRefOf(t, d, "app", "v1"), "o", time.Now()); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{"digest": &types.AttributeValueMemberS{Value: string(d)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	exp, ok := out.Item["expiresAt"].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("expiresAt = %#v, want a Number (the TTL attribute)", out.Item["expiresAt"])
	}
	if v, err := strconv.ParseInt(exp.Value, 10, 64); err != nil || v <= time.Now().Unix() {
		t.Errorf("expiresAt = %s, want epoch seconds in the future", exp.Value)
	}
	if v, ok := out.Item["version"].(*types.AttributeValueMemberN); !ok || v.Value != "1" {
		t.Errorf("version = %#v, want N 1", out.Item["version"])
	}
}

// conflictingClient finds no record and loses every conditional write.
type conflictingClient struct{ puts atomic.Int32 }

func (c *conflictingClient) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

func (c *conflictingClient) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts.Add(1)
	return nil, &types.ConditionalCheckFailedException{Message: aws.String("conflict")}
}

func TestScanStoreUpdateGivesUp(t *testing.T) {
	tests := []struct {
		name      string
		ctx       func() context.Context
		backoff   time.Duration
		wantErr   error
		wantPuts  int32
		exactPuts bool
	}{
		{
			name:      "every attempt conflicts",
			ctx:       context.Background,
			wantErr:   dynamostore.ErrContention,
			wantPuts:  dynamostore.MaxUpdateAttempts,
			exactPuts: true,
		},
		{
			name: "context ends while backing off",
			ctx: func() context.Context {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			backoff:  time.Hour,
			wantErr:  context.DeadlineExceeded,
			wantPuts: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := &conflictingClient{}
			s, err := dynamostore.NewScanStore(client, "scans")
			if err != nil {
				t.Fatal(err)
			}
			dynamostore.SetBackoff(s, func(int) time.Duration { return tc.backoff })
			err = s.Update(tc.ctx(), testkit.RandomDigest(t), func(*domain.Scan) error { return nil })
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Update = %v, want %v", err, tc.wantErr)
			}
			if got := client.puts.Load(); got != tc.wantPuts {
				t.Errorf("%d writes attempted, want %d", got, tc.wantPuts)
			}
		})
	}
}

func TestNewScanStoreRejectsMissingDependencies(t *testing.T) {
	if _, err := dynamostore.NewScanStore(nil, "t"); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := dynamostore.NewScanStore(&conflictingClient{}, ""); err == nil {
		t.Error("empty table name accepted")
	}
}
