// Command alert is the alert function: scan events from the alert queue in,
// at most one SNS alert per scan and repository out, when the alert policy
// flags the result or the scan failed for good.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/snsnotify"
	"ecrscanner/infra/startup"
	"ecrscanner/infra/suppressionstore"
)

func main() { startup.Events("alert", build) }

func build(_ context.Context, d startup.Deps) (startup.EventConsumer, error) {
	cfg, topicARN := LoadConfig(d.Env)
	notifier, err := snsnotify.New(sns.NewFromConfig(d.AWS, snsnotify.RetrySentOnlyOnAnswer), topicARN)
	d.Env.Check(err)
	s3c := s3.NewFromConfig(d.AWS, awsconfig.S3Options(d.AWS))
	reports, err := s3store.NewReports(s3c, cfg.ResultsBucket)
	d.Env.Check(err)
	h, err := NewHandler(notifier, reports, d.Idempotency, cfg, d.Logger)
	if err != nil {
		return nil, err
	}
	rules, err := suppressionstore.New(s3c, cfg.ResultsBucket)
	if err != nil {
		return nil, err
	}
	h.UseSuppressions(suppressionstore.NewPerInvocation(rules), time.Now)
	return h, nil
}
