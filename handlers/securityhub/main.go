// Command securityhub is the Security Hub function: scan events from the
// Security Hub queue in, one ASFF finding per vulnerability (QID) and per
// secret of each image (digest) in each repository out, imported into AWS
// Security Hub under the account's default product; findings a rescan of the
// image no longer has, and those of images no tag points at any more, are
// resolved by archiving them (RecordState ARCHIVED, through the same import:
// the function may not touch any other product's findings).
package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/securityhubstore"
	"ecrscanner/infra/startup"
	"ecrscanner/infra/suppressionstore"
)

func main() { startup.Events("securityhub", build) }

func build(_ context.Context, d startup.Deps) (startup.EventConsumer, error) {
	s3c := s3.NewFromConfig(d.AWS, awsconfig.S3Options(d.AWS))
	bucket := d.Env.Required("RESULTS_BUCKET")
	reports, err := s3store.NewReports(s3c, bucket)
	d.Env.Check(err)
	// GetFindings allows 3 requests a second per account and
	// BatchImportFindings 10: more attempts ride out throttling of a large
	// report instead of failing the message.
	client := securityhub.NewFromConfig(d.AWS, func(o *securityhub.Options) { o.RetryMaxAttempts = 10 })
	hub, err := securityhubstore.New(client, d.Env.Required("PRODUCT_ARN"))
	if err != nil {
		return nil, err
	}
	tags, err := ecrstore.NewImageTags(ecr.NewFromConfig(d.AWS))
	d.Env.Check(err)
	h, err := NewHandler(reports, hub, memberTags(d, tags), hub.Product(), d.Logger) // account.go
	if err != nil {
		return nil, err
	}
	h.ServeMembers(d.Env.String("ORGANIZATION_ID", "") != "") // account.go
	rules, err := suppressionstore.New(s3c, bucket)
	if err != nil {
		return nil, err
	}
	h.UseSuppressions(suppressionstore.NewPerInvocation(rules), time.Now)
	return h, nil
}
