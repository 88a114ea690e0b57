package dynamostore

import "time"

// Test hooks for the external test package, which holds the tests because
// they use mototest and package local imports this one.

const (
	MaxUpdateAttempts = maxUpdateAttempts
	StartAttempts     = startAttempts
)

// SetBackoff replaces the pause between Update's attempts.
func SetBackoff(s *ScanStore, backoff func(attempt int) time.Duration) { s.backoff = backoff }
