// Command scan is the scan function: ECR push events from the scan queue in,
// one QScanner run per image digest, a ScanCompleted (or ScanFailed) record in
// the scans table out.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/handlers/consume"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/qscanner"
	"ecrscanner/infra/queue"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/secretstore"
	"ecrscanner/infra/startup"
)

func main() { startup.Messages("scan", build) }

func build(_ context.Context, d startup.Deps) (consume.Handler, error) {
	s := loadSettings(d.Env)
	tokens, err := secretstore.New(secretstore.Config{SecretID: s.secretID, SecretIDSetting: "QUALYS_TOKEN_SECRET_ARN", SecretKey: s.secretKey}, secretsmanager.NewFromConfig(d.AWS))
	d.Env.Check(err)
	runner, err := qscanner.NewRunner(s.qscanner, traceTokens(tokens), d.Logger)
	d.Env.Check(err)
	store, err := dynamostore.NewScanStore(dynamodb.NewFromConfig(d.AWS), s.table)
	d.Env.Check(err)
	reports, err := s3store.NewReports(s3.NewFromConfig(d.AWS, awsconfig.S3Options(d.AWS)), s.bucket)
	d.Env.Check(err)
	inspector, err := ecrstore.NewInspector(ecr.NewFromConfig(d.AWS))
	d.Env.Check(err)
	registries, org := organize(d, runner, inspector) // registry.go
	visibility, err := queue.NewVisibility(sqs.NewFromConfig(d.AWS))
	d.Env.Check(err)
	h, err := NewHandler(store, reports, registries, runner, s.handler, d.Logger)
	if err != nil {
		return nil, err
	}
	h.SetOrganization(org)
	// A retryable scan failure comes back after a short delay rather than
	// the queue's visibility timeout (six times the function's).
	return consume.Backoff(visibility, s.retryDelays, d.Logger)(h.Handle), nil
}
