// Command enrich is the EventBridge Pipe's enrichment function: DynamoDB
// stream records of the scans table in, bus events out.
package main

import (
	"context"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/events"
	"ecrscanner/infra/startup"
)

func main() { startup.Func("enrich", build) }

func build(_ context.Context, d startup.Deps) (func(context.Context, []awsevents.DynamoDBEventRecord) ([]events.ScanEvent, error), error) {
	return (&Enricher{logger: d.Logger}).Enrich, nil
}
