package main

import (
	"time"

	"ecrscanner/infra/lambdaenv"
	"ecrscanner/infra/qscanner"
)

// settings is the scan function's configuration.
type settings struct {
	table    string // SCANS_TABLE
	bucket   string // REPORTS_BUCKET
	secretID string // QUALYS_TOKEN_SECRET_ARN
	// secretKey is the JSON field of the secret holding the token
	// (QUALYS_TOKEN_SECRET_KEY); empty for the default fields.
	secretKey string
	handler   Config
	qscanner  qscanner.Config
	// retryDelays space out the retries of a retryable scan failure.
	retryDelays []time.Duration
}

// loadSettings reads the scan function's settings from env, which collects
// every problem.
func loadSettings(env *lambdaenv.Env) settings {
	return settings{
		table:     env.Required("SCANS_TABLE"),
		bucket:    env.Required("REPORTS_BUCKET"),
		secretID:  env.String("QUALYS_TOKEN_SECRET_ARN", ""),
		secretKey: env.String("QUALYS_TOKEN_SECRET_KEY", ""),
		handler: Config{
			CacheTTL:    time.Duration(env.Int("CACHE_TTL_DAYS", 30)) * 24 * time.Hour,
			MaxAttempts: env.Int("MAX_SCAN_ATTEMPTS", 3),
			Platforms:   env.List("SCAN_PLATFORMS", []string{"linux/amd64"}),
		},
		qscanner: qscanner.Config{
			Binary:     env.String("QSCANNER_BIN", "/opt/bin/qscanner"),
			Pod:        env.String("QUALYS_POD", ""),
			GatewayURL: env.String("QUALYS_GATEWAY_URL", ""),
			ScanTypes:  env.String("SCAN_TYPES", "pkg,secret"),
			Mode:       env.String("QSCANNER_MODE", ""),
			PolicyTags: env.String("QSCANNER_POLICY_TAGS", ""),
			Reserve:    env.Duration("SCAN_RESERVE", 30*time.Second),
		},
		retryDelays: env.Durations("SCAN_RETRY_DELAYS", []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}),
	}
}
