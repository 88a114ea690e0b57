package testkit

import (
	"context"

	"ecrscanner/domain"
)

// SuppressionSource is a domain.SuppressionSource for tests: it returns
// Rules, or Err when set.
type SuppressionSource struct {
	Rules domain.Suppressions
	Err   error
}

// Load returns the rules, or the error.
func (s *SuppressionSource) Load(context.Context) (domain.Suppressions, string, error) {
	return s.Rules, "", s.Err
}
