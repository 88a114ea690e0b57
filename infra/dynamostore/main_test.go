package dynamostore_test

import (
	"context"
	"os"
	"testing"

	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/mototest"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

func dynamoClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	return dynamodb.NewFromConfig(mototest.Config(t))
}

// newScansTable creates a fresh scans table on moto and returns its client,
// name and stream ARN.
func newScansTable(t *testing.T) (*dynamodb.Client, string, string) {
	t.Helper()
	client := dynamoClient(t)
	name := mototest.UniqueName("scans")
	arn, err := mototest.CreateScansTable(context.Background(), client, name)
	if err != nil {
		t.Fatalf("mototest.CreateScansTable: %v", err)
	}
	return client, name, arn
}

func newDynamoScanStore(t *testing.T) *dynamostore.ScanStore {
	t.Helper()
	client, name, _ := newScansTable(t)
	s, err := dynamostore.NewScanStore(client, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
