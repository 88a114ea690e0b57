// Command enrich is the EventBridge Pipe's enrichment function: DynamoDB
// stream records of the scans table in, bus events out.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() {
	e := &Enricher{logger: lambdacontext.NewLogger()}
	lambda.StartHandlerFunc(e.Enrich)
}
