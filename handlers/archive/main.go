// Command archive is the archive function: scan events from the archive queue
// in, one JSON document per scan and repository in the results bucket out,
// under scan-results/{repository}/{digest}/{timestamp}.json.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/handlers/consume"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/s3store"
)

var (
	_ archiver = (*s3store.Archive)(nil)
)

func main() { consume.RunDownstream("archive", build) }

func build(_ context.Context, d consume.Deps) (consume.EventHandler, error) {
	bucket := d.Env.Required("RESULTS_BUCKET")
	if d.Env.Err() != nil {
		// RunDownstream reports every configuration problem at once.
		return nil, nil
	}
	client := s3.NewFromConfig(d.AWS, awsconfig.S3Options(d.AWS))
	// The report store reads from the bucket each event names; its own
	// bucket is used only for writes, which this function never makes.
	reports, err := s3store.NewReports(client, bucket)
	if err != nil {
		return nil, err
	}
	archive, err := s3store.NewArchive(client, bucket)
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(reports, archive, d.Logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
