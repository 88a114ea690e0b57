// Command tag is the tag function: scan events from the image-scans bus in,
// scan labels on each repository and a summary artifact attached to each
// image out.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/startup"
	"ecrscanner/infra/suppressionstore"
)

func main() { startup.Events("tag", build) }

// build wires the handler. REGISTRY_ENDPOINT (tests and local runs only)
// sends the summary artifacts to another registry, anonymously.
func build(_ context.Context, d startup.Deps) (startup.EventConsumer, error) {
	client := ecr.NewFromConfig(d.AWS)
	tagger, err := ecrstore.NewTagger(client)
	d.Env.Check(err)
	rcfg := ecrstore.ReferrersConfig{Endpoint: d.Env.String("REGISTRY_ENDPOINT", "")}
	referrers, err := ecrstore.NewReferrers(client, rcfg)
	d.Env.Check(err)
	registryTagger, registryReferrers := organize(d, tagger, referrers, rcfg) // registry.go
	h, err := NewHandler(registryTagger, registryReferrers, d.Logger)
	if err != nil {
		return nil, err
	}
	// Suppressions: the rules and the reports they apply to.
	s3c := s3.NewFromConfig(d.AWS, awsconfig.S3Options(d.AWS))
	bucket := d.Env.Required("RESULTS_BUCKET")
	reports, err := s3store.NewReports(s3c, bucket)
	d.Env.Check(err)
	rules, err := suppressionstore.New(s3c, bucket)
	d.Env.Check(err)
	h.UseSuppressions(suppressionstore.NewPerInvocation(rules), reports, time.Now)
	return h, nil
}
