// Command archive is the archive function: scan events from the archive queue
// in, one JSON document per scan and repository in the results bucket out,
// under scan-results/{repository}/{digest}/{timestamp}.json.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/startup"
)

func main() { startup.Events("archive", build) }

func build(_ context.Context, d startup.Deps) (startup.EventConsumer, error) {
	bucket := d.Env.Required("RESULTS_BUCKET")
	client := s3.NewFromConfig(d.AWS, awsconfig.S3Options(d.AWS))
	reports, err := s3store.NewReports(client, bucket)
	d.Env.Check(err)
	archive, err := s3store.NewArchive(client, bucket)
	d.Env.Check(err)
	return NewHandler(reports, archive, d.Logger)
}
