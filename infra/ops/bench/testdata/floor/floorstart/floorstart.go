// Package floorstart is the floor the bench driver (infra/ops/bench) holds
// each function's cold start and binary size to: a Go Lambda bootstrap that
// loads the AWS configuration, builds the SDK clients the function builds,
// and starts the runtime with a handler that does nothing. Whatever a
// function costs beyond its floor is the project's own start-up.
//
// Built with the tag benchxray, the floor also sets up tracing the way
// infra/startup does (tracing.Setup, every client instrumented), so the
// driver can show what the X-Ray SDK costs on its own.
package floorstart

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// instrument is replaced under the benchxray tag.
var instrument = func(*aws.Config) {}

// Start builds the clients (build may be nil: no AWS configuration is
// loaded, as for the enrichment function) and runs the Lambda runtime.
func Start(build func(cfg aws.Config)) {
	if build != nil {
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor: load AWS config:", err)
			os.Exit(1)
		}
		instrument(&cfg)
		build(cfg)
	}
	lambda.Start(func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, nil })
}
