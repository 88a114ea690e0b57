package main

import (
	"testing"
	"time"

	"ecrscanner/infra/lambdaenv"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/startup"
)

// An alert marker outlives the scan cache, whatever its length: a tag
// pushed late, while the scan still stands as the cache, finds it.
func TestAlertRetentionFollowsTheCacheTTL(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name string
		env  map[string]string
		want time.Duration
	}{
		{name: "a month's cache", env: map[string]string{"CACHE_TTL_DAYS": "30"}, want: 30*day + startup.RedeliveryWindow},
		{name: "the longest cache the template allows", env: map[string]string{"CACHE_TTL_DAYS": "3650"}, want: 3650*day + startup.RedeliveryWindow},
		{name: "a one-day cache", env: map[string]string{"CACHE_TTL_DAYS": "1"}, want: day + startup.RedeliveryWindow},
		{name: "the deduplication retention set", env: map[string]string{"CACHE_TTL_DAYS": "3650", "IDEMPOTENCY_RETENTION": "90000h"}, want: 90000 * time.Hour},
		{name: "no cache TTL (start-up refuses it): the longest cache's", env: map[string]string{}, want: DefaultRetention},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["TOPIC_ARN"], tc.env["RESULTS_BUCKET"] = "arn:aws:sns:eu-west-1:123456789012:alerts", testkit.Bucket
			cfg, _ := LoadConfig(lambdaenv.FromMap(tc.env))
			if cfg.Retention != tc.want {
				t.Errorf("retention %v, want %v", cfg.Retention, tc.want)
			}
			if days, ok := tc.env["CACHE_TTL_DAYS"]; ok {
				cache, _ := time.ParseDuration(days + "h")
				if cfg.Retention < cache*24 {
					t.Errorf("retention %v is shorter than the %s-day cache", cfg.Retention, days)
				}
			}
		})
	}
}
