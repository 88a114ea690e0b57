package awsconfig

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// isolate clears the environment the default chain reads, so the developer's
// own AWS settings cannot change the outcome.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantErr      error
		wantEndpoint string // "" means no override
		wantS3Path   bool
	}{
		{
			name:    "no region",
			wantErr: ErrNoRegion,
		},
		{
			name: "real AWS",
			env:  map[string]string{"AWS_REGION": "eu-west-1"},
		},
		{
			name:         "global endpoint override",
			env:          map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"},
			wantEndpoint: "http://127.0.0.1:5000",
			wantS3Path:   true,
		},
		{
			name:       "S3-only endpoint override",
			env:        map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5001"},
			wantS3Path: true,
		},
		{
			name: "overrides ignored",
			env: map[string]string{
				"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
				"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(context.Background())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Load error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got := aws.ToString(cfg.BaseEndpoint); got != tc.wantEndpoint {
				t.Errorf("BaseEndpoint = %q, want %q", got, tc.wantEndpoint)
			}
			o := s3.NewFromConfig(cfg, S3Options(cfg)).Options()
			if o.UsePathStyle != tc.wantS3Path {
				t.Errorf("S3 UsePathStyle = %v, want %v", o.UsePathStyle, tc.wantS3Path)
			}
		})
	}
}

func TestLoadAppliesOptionsInOrder(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_REGION", "us-east-1")
	var order []string
	cfg, err := Load(context.Background(),
		func(c *aws.Config) { order = append(order, "first"); c.AppID = "first" },
		func(c *aws.Config) { order = append(order, "second"); c.AppID += "+second" },
	)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppID != "first+second" || len(order) != 2 {
		t.Errorf("AppID = %q, calls %v; want both options applied in order", cfg.AppID, order)
	}
}
