package main

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
)

// FuzzAlertMessage builds the alert for every repository of any event that
// validates, with the secrets of any report, and checks what SNS and the
// reader rely on: the subject within SNS's rules (checkSubject), the body
// valid UTF-8 within MaxBodyBytes and never carrying a raw control
// character from the input other than its own line breaks, and the
// attributes valid UTF-8.
func FuzzAlertMessage(f *testing.F) {
	app := testkit.MustRef(f, "team/app", "v1.2.3")
	seeds := []struct {
		ev  events.ScanEvent
		rep *domain.Report
	}{
		{testkit.CompletedEvent(testkit.ThresholdReport(), app, testkit.MustRef(f, "other/app", "")), testkit.ThresholdReport()},
		{testkit.ReferencedEvent(testkit.Report(), testkit.MustRef(f, "payments/api", "2025.03.1"), app), testkit.Report()},
		{testkit.FailedEvent(domain.Failure{Class: domain.FailurePolicyDeny, Reason: "denied\nBcc: x", ExitCode: 42}, app), nil},
	}
	for _, s := range seeds {
		ev, err := json.Marshal(s.ev)
		if err != nil {
			f.Fatal(err)
		}
		rep, err := json.Marshal(s.rep)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ev, rep)
	}
	for _, b := range testkit.Files(f, "../../testdata/bus/*.golden.json") {
		f.Add(b, []byte(`null`))
	}

	f.Fuzz(func(t *testing.T, evJSON, repJSON []byte) {
		var ev events.ScanEvent
		if json.Unmarshal(evJSON, &ev) != nil || ev.Validate() != nil {
			return
		}
		var rep *domain.Report
		unavailable := json.Unmarshal(repJSON, &rep) != nil || rep == nil
		policy := domain.DefaultAlertPolicy
		for _, repo := range ev.Repositories() {
			v := newView(ev, repo, testkit.Bucket)
			v.policy = policy
			var a = failureAlert
			switch ev.EventType {
			case domain.EventScanCompleted, domain.EventImageReferenced:
				if ev.Summary == nil || ev.ScannedAt.IsZero() {
					continue // the handler refuses these before composing
				}
				v.verdict = policy.Evaluate(*ev.Summary)
				if !v.verdict.Alert {
					continue
				}
				if !unavailable {
					v.secrets = rep.Secrets
				}
				v.secretsUnavailable = unavailable
				a = findingsAlert
			}
			msg := a(v)
			checkSubject(t, msg.Subject)
			if !utf8.ValidString(msg.Body) || len(msg.Body) > MaxBodyBytes {
				t.Fatalf("body is %d bytes, valid UTF-8 %v", len(msg.Body), utf8.ValidString(msg.Body))
			}
			if i := strings.IndexFunc(msg.Body, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }); i >= 0 {
				t.Fatalf("body carries control character %q at %d", msg.Body[i], i)
			}
			for k, val := range msg.Attributes {
				if !utf8.ValidString(val) || val == "" {
					t.Fatalf("attribute %s = %q: empty or not UTF-8", k, val)
				}
			}
		}
	})
}
