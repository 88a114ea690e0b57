package domain

// AlertPolicy decides which scan results deserve an alert.
type AlertPolicy struct {
	// MinSeverity is the lowest vulnerability severity that alerts (default HIGH).
	MinSeverity Severity
	// OnSecrets alerts on any secret, whatever its severity.
	OnSecrets bool
	// FixableOnly counts only vulnerabilities that have a fixed version.
	FixableOnly bool
}

// DefaultAlertPolicy is the original Python scanner's behaviour: critical, high
// or a secret.
var DefaultAlertPolicy = AlertPolicy{MinSeverity: SeverityHigh, OnSecrets: true}

// Verdict is the policy's reading of one summary.
type Verdict struct {
	Alert bool
	// Vulnerabilities is the number of findings at or above the threshold
	// (fixable ones only when the policy says so).
	Vulnerabilities int
	Secrets         int
	// Worst is the highest severity among what triggered the alert.
	Worst Severity
}

// Evaluate applies the policy to a summary.
func (p AlertPolicy) Evaluate(s Summary) Verdict {
	counts := s.Vulnerabilities
	if p.FixableOnly {
		counts = s.Fixable
	}
	min := p.MinSeverity
	if min == SeverityUnknown {
		min = SeverityHigh
	}
	v := Verdict{Vulnerabilities: counts.AtLeast(min)}
	for _, sev := range Severities {
		if sev >= min && counts.Of(sev) > 0 {
			v.Worst = sev
			break
		}
	}
	if p.OnSecrets && s.Secrets > 0 {
		v.Secrets = s.Secrets
		worstSecret := SeverityUnknown
		for _, sev := range Severities {
			if sev != SeverityUnknown && s.SecretSeverity.Of(sev) > 0 {
				worstSecret = sev
				break
			}
		}
		// A secret of unstated severity is still a secret: it ranks as HIGH,
		// also beside secrets of a known, lower severity.
		if s.SecretSeverity.Unknown > 0 || s.Secrets > s.SecretSeverity.Total() {
			worstSecret = max(worstSecret, SeverityHigh)
		}
		if worstSecret > v.Worst {
			v.Worst = worstSecret
		}
	}
	v.Alert = v.Vulnerabilities > 0 || v.Secrets > 0
	return v
}
