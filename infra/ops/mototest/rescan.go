package mototest

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"ecrscanner/infra/dynamostore"
)

// RescanIndexClient creates and describes tables.
type RescanIndexClient interface {
	TableClient
	UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
}

// AddRescanIndex adds the sweep's sparse index to a scans table made by
// CreateScansTable, as the template declares it (ScansTable's
// GlobalSecondaryIndexes), and waits until it is ACTIVE.
func AddRescanIndex(ctx context.Context, client RescanIndexClient, table string) error {
	_, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(dynamostore.RescanShardAttr), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(dynamostore.RescanFromAttr), AttributeType: types.ScalarAttributeTypeS},
		},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
			IndexName: aws.String(dynamostore.RescanIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(dynamostore.RescanShardAttr), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(dynamostore.RescanFromAttr), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"references"}},
		}}},
	})
	if err != nil {
		return fmt.Errorf("add %s to %s: %w", dynamostore.RescanIndex, table, err)
	}
	deadline := time.Now().Add(tableActiveTimeout)
	for time.Now().Before(deadline) {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return err
		}
		for _, g := range out.Table.GlobalSecondaryIndexes {
			if aws.ToString(g.IndexName) == dynamostore.RescanIndex && g.IndexStatus == types.IndexStatusActive {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s of %s not ACTIVE after %v", dynamostore.RescanIndex, table, tableActiveTimeout)
}
