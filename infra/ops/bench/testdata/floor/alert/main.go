// Command alert is the floor of the alert function (see floorstart): the SDK
// clients handlers/alert builds, and nothing else.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/infra/ops/bench/testdata/floor/floorstart"
)

func main() {
	floorstart.Start(func(cfg aws.Config) {
		_ = dynamodb.NewFromConfig(cfg)
		_ = sqs.NewFromConfig(cfg)
		_ = sns.NewFromConfig(cfg)
		_ = s3.NewFromConfig(cfg)
	})
}
