package dynamostore_test

import (
	"context"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/testkit"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

func TestCreateTables(t *testing.T) {
	ctx := context.Background()
	client := dynamoClient(t)
	tests := []struct {
		name       string
		create     func(name string) error
		key        string
		wantStream bool
	}{
		{
			name: "scans",
			create: func(name string) error {
				arn, err := mototest.CreateScansTable(ctx, client, name)
				if err == nil && arn == "" {
					t.Error("no stream ARN returned")
				}
				return err
			},
			key:        "digest",
			wantStream: true,
		},
		{
			name:   "idempotency",
			create: func(name string) error { return mototest.CreateIdempotencyTable(ctx, client, name) },
			key:    "key",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := mototest.UniqueName(tc.name)
			if err := tc.create(name); err != nil {
				t.Fatal(err)
			}
			desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			tbl := desc.Table
			if tbl.TableStatus != types.TableStatusActive {
				t.Errorf("status %s, want ACTIVE", tbl.TableStatus)
			}
			if len(tbl.KeySchema) != 1 || aws.ToString(tbl.KeySchema[0].AttributeName) != tc.key || tbl.KeySchema[0].KeyType != types.KeyTypeHash {
				t.Errorf("key schema %+v, want hash key %q only", tbl.KeySchema, tc.key)
			}
			if tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
				t.Errorf("billing %+v, want PAY_PER_REQUEST", tbl.BillingModeSummary)
			}
			streaming := tbl.StreamSpecification != nil && aws.ToBool(tbl.StreamSpecification.StreamEnabled)
			if streaming != tc.wantStream {
				t.Errorf("stream enabled = %v, want %v", streaming, tc.wantStream)
			}
			if tc.wantStream && tbl.StreamSpecification.StreamViewType != types.StreamViewTypeNewAndOldImages {
				t.Errorf("stream view %s, want NEW_AND_OLD_IMAGES", tbl.StreamSpecification.StreamViewType)
			}
			ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "expiresAt" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
				t.Errorf("TTL %+v, want ENABLED on expiresAt", d)
			}
		})
	}
}

// The Pipe runner reads the scans table's stream: every write must appear
// with the new image (carrying the event) and, from the second write on, the
// old one.
func TestScansTableStream(t *testing.T) {
	ctx := context.Background()
	client, table, arn := newScansTable(t)
	s, err := dynamostore.NewScanStore(client, table)
	if err != nil {
		t.Fatal(err)
	}
	d := testkit.RandomDigest(t)
	now := time.Now().UTC()
	if _, err := testkit.Claim(ctx, s, testkit.MustRefOf(t, d, "app", "v1"), "owner", now); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, d, func(sc *domain.Scan) error {
		return sc.Complete("owner", domain.ScanResult{}, now, time.Hour)
	}); err != nil {
		t.Fatal(err)
	}

	streams := dynamodbstreams.NewFromConfig(mototest.Config(t))
	desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(desc.StreamDescription.Shards); n == 0 {
		t.Fatal("stream has no shards")
	}
	var records []streamtypes.Record
	for _, shard := range desc.StreamDescription.Shards {
		it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn:         aws.String(arn),
			ShardId:           shard.ShardId,
			ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, out.Records...)
	}
	want := []struct {
		op       streamtypes.OperationType
		event    domain.EventType
		oldEvent domain.EventType
	}{
		{streamtypes.OperationTypeInsert, domain.EventScanStarted, ""},
		{streamtypes.OperationTypeModify, domain.EventScanCompleted, domain.EventScanStarted},
	}
	if len(records) != len(want) {
		t.Fatalf("%d stream records, want %d", len(records), len(want))
	}
	for i, w := range want {
		r := records[i]
		if r.EventName != w.op {
			t.Errorf("record %d: %s, want %s", i, r.EventName, w.op)
		}
		if _, ok := r.Dynamodb.NewImage["event"].(*streamtypes.AttributeValueMemberM); !ok {
			t.Errorf("record %d: NewImage event = %#v, want a map", i, r.Dynamodb.NewImage["event"])
		}
		img, err := attributevalue.FromDynamoDBStreamsMap(r.Dynamodb.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := dynamostore.UnmarshalScanRecord(img)
		if err != nil {
			t.Fatalf("record %d: decode NewImage: %v", i, err)
		}
		if rec.Event.Type != w.event || rec.Digest != d || rec.Version != int64(i+1) {
			t.Errorf("record %d: NewImage event %s, digest %s, version %d; want %s, %s, %d", i, rec.Event.Type, rec.Digest, rec.Version, w.event, d, i+1)
		}
		var oldEvent domain.EventType
		if r.Dynamodb.OldImage != nil {
			img, err := attributevalue.FromDynamoDBStreamsMap(r.Dynamodb.OldImage)
			if err != nil {
				t.Fatal(err)
			}
			old, err := dynamostore.UnmarshalScanRecord(img)
			if err != nil {
				t.Fatalf("record %d: decode OldImage: %v", i, err)
			}
			oldEvent = old.Event.Type
		}
		if oldEvent != w.oldEvent {
			t.Errorf("record %d: OldImage event %q, want %q", i, oldEvent, w.oldEvent)
		}
	}
}

// Creating a table is idempotent: a retried CreateTable whose first attempt
// landed finds its own table and carries on.
func TestCreateTablesTwice(t *testing.T) {
	client := dynamoClient(t)
	ctx := context.Background()
	scans := mototest.UniqueName("scans-twice")
	for i := 0; i < 2; i++ {
		if _, err := mototest.CreateScansTable(ctx, client, scans); err != nil {
			t.Fatalf("CreateScansTable #%d: %v", i+1, err)
		}
	}
	idem := mototest.UniqueName("idem-twice")
	for i := 0; i < 2; i++ {
		if err := mototest.CreateIdempotencyTable(ctx, client, idem); err != nil {
			t.Fatalf("CreateIdempotencyTable #%d: %v", i+1, err)
		}
	}
}
