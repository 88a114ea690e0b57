package domain_test

import (
	"testing"

	"ecrscanner/domain"
)

func TestAlertPolicyEvaluate(t *testing.T) {
	var (
		critHigh    = domain.Counts{Critical: 1, High: 2, Medium: 5, Low: 7}
		mediumOnly  = domain.Counts{Medium: 4, Low: 1, Informational: 3}
		unknownOnly = domain.Counts{Unknown: 9}
	)
	tests := []struct {
		name    string
		policy  domain.AlertPolicy
		summary domain.Summary
		want    domain.Verdict
	}{
		{
			name:    "default: critical and high alert",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Vulnerabilities: critHigh},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 3, Worst: domain.SeverityCritical},
		},
		{
			name:    "default: high alone alerts",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Vulnerabilities: domain.Counts{High: 1, Low: 3}},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 1, Worst: domain.SeverityHigh},
		},
		{
			name:    "default: medium only does not alert",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Vulnerabilities: mediumOnly},
			want:    domain.Verdict{},
		},
		{
			name:    "default: clean image does not alert",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{},
			want:    domain.Verdict{},
		},
		{
			name:    "unknown severities never reach a threshold",
			policy:  domain.AlertPolicy{MinSeverity: domain.SeverityInformational},
			summary: domain.Summary{Vulnerabilities: unknownOnly},
			want:    domain.Verdict{},
		},
		{
			name:    "zero policy threshold means HIGH",
			policy:  domain.AlertPolicy{},
			summary: domain.Summary{Vulnerabilities: critHigh, Secrets: 1, SecretSeverity: domain.Counts{Critical: 1}},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 3, Worst: domain.SeverityCritical},
		},
		{
			name:    "MinSeverity CRITICAL ignores high",
			policy:  domain.AlertPolicy{MinSeverity: domain.SeverityCritical},
			summary: domain.Summary{Vulnerabilities: domain.Counts{High: 5}},
			want:    domain.Verdict{},
		},
		{
			name:    "MinSeverity CRITICAL counts critical only",
			policy:  domain.AlertPolicy{MinSeverity: domain.SeverityCritical},
			summary: domain.Summary{Vulnerabilities: critHigh},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 1, Worst: domain.SeverityCritical},
		},
		{
			name:    "MinSeverity MEDIUM alerts on medium",
			policy:  domain.AlertPolicy{MinSeverity: domain.SeverityMedium},
			summary: domain.Summary{Vulnerabilities: mediumOnly},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 4, Worst: domain.SeverityMedium},
		},
		{
			name:    "MinSeverity MEDIUM counts everything from medium up",
			policy:  domain.AlertPolicy{MinSeverity: domain.SeverityMedium},
			summary: domain.Summary{Vulnerabilities: critHigh},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 8, Worst: domain.SeverityCritical},
		},
		{
			name:   "FixableOnly ignores unfixable criticals",
			policy: domain.AlertPolicy{MinSeverity: domain.SeverityHigh, FixableOnly: true},
			summary: domain.Summary{
				Vulnerabilities: critHigh,
				Fixable:         domain.Counts{Medium: 5, Low: 7},
			},
			want: domain.Verdict{},
		},
		{
			name:   "FixableOnly counts fixable ones",
			policy: domain.AlertPolicy{MinSeverity: domain.SeverityHigh, FixableOnly: true},
			summary: domain.Summary{
				Vulnerabilities: critHigh,
				Fixable:         domain.Counts{High: 1},
			},
			want: domain.Verdict{Alert: true, Vulnerabilities: 1, Worst: domain.SeverityHigh},
		},
		{
			name:    "OnSecrets alerts on a secret alone",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Vulnerabilities: mediumOnly, Secrets: 2, SecretSeverity: domain.Counts{Medium: 2}},
			want:    domain.Verdict{Alert: true, Secrets: 2, Worst: domain.SeverityMedium},
		},
		{
			name:    "OnSecrets false ignores secrets",
			policy:  domain.AlertPolicy{MinSeverity: domain.SeverityHigh},
			summary: domain.Summary{Secrets: 3, SecretSeverity: domain.Counts{Critical: 3}},
			want:    domain.Verdict{},
		},
		{
			name:    "OnSecrets false still alerts on vulnerabilities",
			policy:  domain.AlertPolicy{MinSeverity: domain.SeverityHigh},
			summary: domain.Summary{Vulnerabilities: domain.Counts{High: 1}, Secrets: 3, SecretSeverity: domain.Counts{Critical: 3}},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 1, Worst: domain.SeverityHigh},
		},
		{
			name:    "Worst: a critical secret outranks high findings",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Vulnerabilities: domain.Counts{High: 2}, Secrets: 1, SecretSeverity: domain.Counts{Critical: 1}},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 2, Secrets: 1, Worst: domain.SeverityCritical},
		},
		{
			name:    "Worst: a low secret does not lower critical findings",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Vulnerabilities: domain.Counts{Critical: 1}, Secrets: 1, SecretSeverity: domain.Counts{Low: 1}},
			want:    domain.Verdict{Alert: true, Vulnerabilities: 1, Secrets: 1, Worst: domain.SeverityCritical},
		},
		{
			name:    "Worst: a secret of unknown severity counts as high",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Vulnerabilities: mediumOnly, Secrets: 1, SecretSeverity: domain.Counts{Unknown: 1}},
			want:    domain.Verdict{Alert: true, Secrets: 1, Worst: domain.SeverityHigh},
		},
		{
			name:    "Worst: secrets without a severity breakdown count as high",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Secrets: 4},
			want:    domain.Verdict{Alert: true, Secrets: 4, Worst: domain.SeverityHigh},
		},
		{
			name:    "Worst: an unknown secret beside a low one counts as high",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Secrets: 3, SecretSeverity: domain.Counts{Unknown: 2, Low: 1}},
			want:    domain.Verdict{Alert: true, Secrets: 3, Worst: domain.SeverityHigh},
		},
		{
			name:    "Worst: a critical secret outranks unknown ones",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Secrets: 3, SecretSeverity: domain.Counts{Unknown: 2, Critical: 1}},
			want:    domain.Verdict{Alert: true, Secrets: 3, Worst: domain.SeverityCritical},
		},
		{
			name:    "Worst: secrets missing from the breakdown count as high",
			policy:  domain.DefaultAlertPolicy,
			summary: domain.Summary{Secrets: 2, SecretSeverity: domain.Counts{Low: 1}},
			want:    domain.Verdict{Alert: true, Secrets: 2, Worst: domain.SeverityHigh},
		},
		{
			name:    "Worst: below-threshold findings do not raise it",
			policy:  domain.AlertPolicy{MinSeverity: domain.SeverityCritical, OnSecrets: true},
			summary: domain.Summary{Vulnerabilities: domain.Counts{High: 3}, Secrets: 1, SecretSeverity: domain.Counts{Medium: 1}},
			want:    domain.Verdict{Alert: true, Secrets: 1, Worst: domain.SeverityMedium},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.Evaluate(tc.summary); got != tc.want {
				t.Errorf("Evaluate = %+v, want %+v", got, tc.want)
			}
		})
	}
}
