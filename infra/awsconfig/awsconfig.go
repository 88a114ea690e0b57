// Package awsconfig builds the one aws.Config a process shares between its SDK
// clients, so every handler and local run resolves region, credentials and
// endpoint overrides the same way.
package awsconfig

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Option adjusts the loaded configuration before it is returned.
//
// This is where tracing is attached: handlers pass the tracing package's
// instrumentation (which appends its middleware to cfg.APIOptions) as an
// Option, so every client built from the config is traced and this package
// stays free of any tracing SDK.
type Option func(*aws.Config)

// ErrNoRegion is returned by Load when no region is configured anywhere in
// the default chain. Lambda always sets AWS_REGION; a local run must too.
var ErrNoRegion = errors.New("no AWS region configured: set AWS_REGION")

// Load reads the SDK's default chain (environment, shared files, container or
// instance role) and applies opts in order. Endpoint overrides come from that
// chain too: AWS_ENDPOINT_URL points every client at one endpoint (moto for
// local runs), AWS_ENDPOINT_URL_<SERVICE> at a per-service one, and
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns both off.
func Load(ctx context.Context, opts ...Option) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", ErrNoRegion)
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg, nil
}

// S3PathStyle reports whether S3 clients built from cfg should address buckets
// by path: true when an endpoint override is in use, because a local server
// such as moto on 127.0.0.1 cannot serve <bucket>.<host> names.
func S3PathStyle(cfg aws.Config) bool { return cfg.BaseEndpoint != nil }

// S3Options returns the client option every S3 client should be built with:
//
//	s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
//
// It turns on path-style addressing when cfg, or the S3-specific setting
// AWS_ENDPOINT_URL_S3, overrides the endpoint; against real S3 it changes
// nothing.
func S3Options(cfg aws.Config) func(*s3.Options) {
	return func(o *s3.Options) {
		// o.BaseEndpoint already holds the S3-specific override, if any: the
		// client resolves it before applying options.
		if S3PathStyle(cfg) || o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	}
}
