// Command securityhub is the Security Hub function: scan events from the
// Security Hub queue in, one ASFF finding per vulnerability (QID) and per
// secret of each repository's latest scan out, imported into AWS Security Hub
// under the account's default product; findings a newer scan no longer has
// are resolved and archived.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"ecrscanner/handlers/consume"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/securityhubstore"
)

var (
	_ findingStore = (*securityhubstore.Hub)(nil)
)

func main() { consume.RunDownstream("securityhub", build) }

func build(_ context.Context, d consume.Deps) (consume.EventHandler, error) {
	bucket := d.Env.Required("RESULTS_BUCKET")
	productARN := d.Env.Required("PRODUCT_ARN")
	if d.Env.Err() != nil {
		// RunDownstream reports every configuration problem at once.
		return nil, nil
	}
	// The report store reads from the bucket each event names; its own
	// bucket is used only for writes, which this function never makes.
	reports, err := s3store.NewReports(s3.NewFromConfig(d.AWS, awsconfig.S3Options(d.AWS)), bucket)
	if err != nil {
		return nil, err
	}
	// GetFindings allows 3 requests a second per account and
	// BatchImportFindings 10: more attempts ride out throttling of a large
	// report instead of failing the message.
	client := securityhub.NewFromConfig(d.AWS, func(o *securityhub.Options) { o.RetryMaxAttempts = 10 })
	hub, err := securityhubstore.New(client, productARN)
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(reports, hub, hub.Product(), d.Logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
