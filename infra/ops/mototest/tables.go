package mototest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"ecrscanner/infra/dynamostore"
)

// TableClient is the part of the DynamoDB API that creates tables.
type TableClient interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// tableActiveTimeout bounds the wait for a new table. moto is immediate; real
// DynamoDB takes seconds.
const tableActiveTimeout = 2 * time.Minute

// CreateScansTable creates the scans table as the CloudFormation template
// does, for tests and local runs: on-demand, keyed by digest, streaming new and
// old images, with TTL on expiresAt. It waits until the table is ACTIVE and
// returns the stream's ARN.
func CreateScansTable(ctx context.Context, client TableClient, name string) (streamARN string, err error) {
	out, err := createTable(ctx, client, name, dynamostore.ScansKey, &types.StreamSpecification{
		StreamEnabled:  aws.Bool(true),
		StreamViewType: types.StreamViewTypeNewAndOldImages,
	})
	if err != nil {
		return "", err
	}
	arn := aws.ToString(out.LatestStreamArn)
	if arn == "" {
		return "", fmt.Errorf("create table %s: no stream ARN in the description", name)
	}
	return arn, nil
}

// CreateIdempotencyTable creates the idempotency table as the CloudFormation
// template does, for tests and local runs: on-demand, keyed by key, with TTL
// on expiresAt. It waits until the table is ACTIVE.
func CreateIdempotencyTable(ctx context.Context, client TableClient, name string) error {
	_, err := createTable(ctx, client, name, dynamostore.IdempotencyKey, nil)
	return err
}

func createTable(ctx context.Context, client TableClient, name, hashKey string, stream *types.StreamSpecification) (*types.TableDescription, error) {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(hashKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(hashKey), KeyType: types.KeyTypeHash}},
		StreamSpecification:  stream,
	})
	// A table that already exists is most often this call's own, created by
	// a first attempt whose reply was lost and then retried by the SDK: carry
	// on and wait for it like a new one.
	var exists *types.ResourceInUseException
	if err != nil && !errors.As(err, &exists) {
		return nil, fmt.Errorf("create table %s: %w", name, err)
	}
	desc, err := dynamodb.NewTableExistsWaiter(client).WaitForOutput(ctx,
		&dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableActiveTimeout,
		func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err != nil {
		return nil, fmt.Errorf("create table %s: wait until active: %w", name, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(dynamostore.TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil && !strings.Contains(err.Error(), "already enabled") {
		return nil, fmt.Errorf("create table %s: enable TTL on %s: %w", name, dynamostore.TTLAttribute, err)
	}
	return desc.Table, nil
}
