package main

import (
	"fmt"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/lambdaenv"
	"ecrscanner/infra/startup"
)

// Config is the alert handler's behaviour that deployments tune.
type Config struct {
	// Enabled turns alerting on (ENABLE_ALERTS); when off, events are logged
	// and dropped.
	Enabled bool
	// Policy decides which scan results alert.
	Policy domain.AlertPolicy
	// ResultsBucket holds the archive objects the alerts point at.
	ResultsBucket string
	// Lease is how long a started alert holds off another delivery for the
	// same scan and repository; it must exceed one Publish call.
	Lease time.Duration
	// Retention is how long a sent alert is remembered. It outlives the
	// scan cache (CACHE_TTL_DAYS), so that a tag pushed late to a
	// repository that was already alerted for the scan stays quiet: it is
	// the deduplication markers' retention (startup.MarkerRetention), which
	// start-up refuses to run with if it is shorter than the cache.
	Retention time.Duration
}

// Defaults for the idempotency markers of sent alerts. DefaultRetention is
// only NewHandler's fallback for a Config built without a retention (LoadConfig
// always sets the configured one): it outlives the longest cache the stack
// allows (CacheTTLDays up to 3650 days) by the redelivery window.
const (
	DefaultLease     = 2 * time.Minute
	DefaultRetention = 3650*24*time.Hour + startup.RedeliveryWindow
)

// LoadConfig reads the alert settings from env (problems are collected in env)
// and returns them with the topic ARN. Retention follows CACHE_TTL_DAYS and
// IDEMPOTENCY_RETENTION as deduplication reads them.
func LoadConfig(env *lambdaenv.Env) (cfg Config, topicARN string) {
	topicARN = env.Required("TOPIC_ARN")
	cfg = Config{
		Enabled:       env.Bool("ENABLE_ALERTS", true),
		ResultsBucket: env.Required("RESULTS_BUCKET"),
		Policy: domain.AlertPolicy{
			MinSeverity: minSeverity(env),
			OnSecrets:   env.Bool("ALERT_ON_SECRETS", true),
			FixableOnly: env.Bool("ALERT_FIXABLE_ONLY", false),
		},
		Lease:     DefaultLease,
		Retention: startup.MarkerRetention(env),
	}
	return cfg, topicARN
}

// minSeverity reads MIN_ALERT_SEVERITY (default HIGH). UNKNOWN is refused: as
// a threshold it would mean "anything", which the policy cannot rank.
func minSeverity(env *lambdaenv.Env) domain.Severity {
	const name = "MIN_ALERT_SEVERITY"
	v := env.String(name, domain.SeverityHigh.String())
	s, err := domain.ParseSeverity(v)
	if err != nil || s == domain.SeverityUnknown {
		env.Check(fmt.Errorf("%s=%q: want CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL", name, v))
		return domain.SeverityHigh
	}
	return s
}
