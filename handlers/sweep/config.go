package main

import (
	"time"

	"ecrscanner/infra/lambdaenv"
)

// settings is the sweep function's configuration.
type settings struct {
	table    string // SCANS_TABLE
	queueURL string // SCAN_QUEUE_URL
	sweep    Config
}

func loadSettings(env *lambdaenv.Env) settings {
	return settings{
		table:    env.Required("SCANS_TABLE"),
		queueURL: env.Required("SCAN_QUEUE_URL"),
		sweep: Config{
			// RESCAN_AFTER (a duration) overrides the days for local runs,
			// whose sample scan is seconds old; deployments set only the days.
			RescanAfter: env.Duration("RESCAN_AFTER", time.Duration(env.Int("RESCAN_AFTER_DAYS", 7))*24*time.Hour),
			Window:      time.Duration(env.Int("RESCAN_WINDOW_DAYS", 30)) * 24 * time.Hour,
			PerMinute:   env.Int("RESCAN_RATE_PER_MINUTE", 60),
			Reserve:     env.Duration("SWEEP_RESERVE", 30*time.Second),
		},
	}
}
