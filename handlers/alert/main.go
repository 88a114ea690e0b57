// Command alert is the alert function: scan events from the alert queue in,
// at most one SNS alert per scan and repository out, when the alert policy
// flags the result or the scan failed for good.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"ecrscanner/handlers/consume"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/snsnotify"
)

var (
	_ publisher = (*snsnotify.Notifier)(nil)
)

func main() { consume.RunDownstream("alert", build) }

func build(_ context.Context, d consume.Deps) (consume.EventHandler, error) {
	cfg, topicARN := LoadConfig(d.Env)
	if d.Env.Err() != nil {
		// RunDownstream reports every configuration problem at once.
		return nil, nil
	}
	notifier, err := snsnotify.New(sns.NewFromConfig(d.AWS), topicARN)
	if err != nil {
		return nil, err
	}
	// The report store reads from the bucket each event names; its own
	// bucket is used only for writes, which this function never makes.
	reports, err := s3store.NewReports(s3.NewFromConfig(d.AWS, awsconfig.S3Options(d.AWS)), cfg.ResultsBucket)
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(notifier, reports, d.Idempotency, cfg, d.Logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
