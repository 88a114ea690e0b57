package local

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Local runs use moto's fixed account and these throwaway credentials; no
// request ever leaves loopback.
const (
	Region          = "us-east-1"
	Account         = "123456789012"
	AccessKeyID     = "local"
	SecretAccessKey = "local"
)

// Config is an aws.Config for moto at endpoint.
func Config(ctx context.Context, endpoint string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithBaseEndpoint(endpoint),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
	)
}

// FunctionEnv is what every locally run function needs to reach moto.
func FunctionEnv(endpoint string) map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":      endpoint,
		"AWS_REGION":            Region,
		"AWS_DEFAULT_REGION":    Region,
		"AWS_ACCESS_KEY_ID":     AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": SecretAccessKey,
		"AWS_SESSION_TOKEN":     "",
		"AWS_PROFILE":           "",
		// No X-Ray daemon runs locally unless a test provides one.
		"AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
	}
}
