// Command scan is the floor of the scan function (see floorstart): the SDK
// clients handlers/scan builds, and nothing else.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"ecrscanner/infra/ops/bench/testdata/floor/floorstart"
)

func main() {
	floorstart.Start(func(cfg aws.Config) {
		_ = secretsmanager.NewFromConfig(cfg)
		_ = dynamodb.NewFromConfig(cfg)
		_ = s3.NewFromConfig(cfg)
		_ = ecr.NewFromConfig(cfg)
		_ = sqs.NewFromConfig(cfg)
		_ = sts.NewFromConfig(cfg)
	})
}
