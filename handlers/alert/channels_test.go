package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/snsnotify"
)

var rulesNow = time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)

func suppression(id string, change func(*domain.Suppression)) domain.Suppression {
	s := domain.Suppression{ID: id, Repositories: []string{"team/*"}, Owner: "alice", CreatedAt: rulesNow.Add(-time.Hour), ExpiresAt: rulesNow.Add(30 * 24 * time.Hour)}
	change(&s)
	return s
}

// thresholdRules suppress the report's critical OpenSSL finding (by CVE)
// and its AWS key (by secret rule) in team/*.
func thresholdRules() domain.Suppressions {
	return domain.Suppressions{Rules: []domain.Suppression{
		suppression("sup-openssl", func(s *domain.Suppression) {
			s.Vulnerability, s.Reason = "CVE-2024-0002", "libssl is linked but the TLS server is never started"
		}),
		suppression("sup-awskey", func(s *domain.Suppression) {
			s.SecretRule, s.Reason = "aws-access-key-id", "documented test key (AKIA…EXAMPLE) in the fixture"
		}),
	}}
}

func rigWithRules(t *testing.T, src domain.SuppressionSource) *testRig {
	t.Helper()
	r := newRig(t, testConfig())
	r.h.UseSuppressions(src, func() time.Time { return rulesNow })
	return r
}

func completedEvent(t *testing.T) events.ScanEvent {
	return testkit.CompletedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "team/app", "v1.2.3"))
}

// indentJSON pretty-prints a channel's message for its golden file.
func indentJSON(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		t.Fatalf("message is not JSON: %v\n%s", err, s)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// TestChannelGolden pins each protocol's message: text (default, for
// email), the Amazon Q Developer custom notification (https) and the
// structured JSON (sqs and lambda, the same), for an alert with
// suppressions and for a failed scan.
func TestChannelGolden(t *testing.T) {
	tests := []struct {
		name string
		ev   func(t *testing.T) events.ScanEvent
	}{
		{"suppressed", completedEvent},
		{"scan-failed", func(t *testing.T) events.ScanEvent {
			return testkit.FailedEvent(domain.Failure{Class: domain.FailurePolicyDeny, Reason: "policy \"no-critical\" denied the image", ExitCode: 42}, testkit.MustRef(t, "team/app", "v1.2.3"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rigWithRules(t, &testkit.SuppressionSource{Rules: thresholdRules()})
			if err := r.h.Handle(context.Background(), tc.ev(t)); err != nil {
				t.Fatal(err)
			}
			if len(r.pub.sent) != 1 {
				t.Fatalf("%d alerts sent, want 1", len(r.pub.sent))
			}
			a := r.pub.sent[0]
			if err := snsnotify.Validate(a); err != nil {
				t.Errorf("SNS would refuse the alert: %v", err)
			}
			if a.Protocols[protoSQS] != a.Protocols[protoFn] {
				t.Error("sqs and lambda subscribers get different messages")
			}
			var chat chatNotification
			if err := json.Unmarshal([]byte(a.Protocols[protoChat]), &chat); err != nil || chat.Version != "1.0" || chat.Source != "custom" || chat.Content.TextType != "client-markdown" || chat.Content.Description == "" {
				t.Errorf("chat message %+v (%v) is not a custom notification", chat, err)
			}
			testkit.Golden(t, filepath.Join("testdata", tc.name+".default.golden.txt"), []byte(render(a)))
			testkit.Golden(t, filepath.Join("testdata", tc.name+".https.golden.json"), indentJSON(t, a.Protocols[protoChat]))
			testkit.Golden(t, filepath.Join("testdata", tc.name+".sqs.golden.json"), indentJSON(t, a.Protocols[protoSQS]))
		})
	}
}

func TestSuppressedFindingsAreListedApart(t *testing.T) {
	r := rigWithRules(t, &testkit.SuppressionSource{Rules: thresholdRules()})
	if err := r.h.Handle(context.Background(), completedEvent(t)); err != nil {
		t.Fatal(err)
	}
	a := r.pub.sent[0]
	for _, want := range []string{
		"HIGH: 1 vulnerability at or above HIGH and 1 secret found",
		"Suppressed (2; not counted above",
		"CRITICAL  QID 379201",
		"reason: libssl is linked but the TLS server is never started (rule sup-openssl, expires 2025-04-04T00:00:00Z)",
		"HIGH  secret aws-access-key-id  /app/.env:3",
	} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, a.Body)
		}
	}
	if strings.Contains(a.Body, "1. HIGH  aws-access-key-id") || a.Attributes[AttrSeverity] != "HIGH" {
		t.Errorf("the suppressed key is still alerted on, or severity %s", a.Attributes[AttrSeverity])
	}
}

func TestSuppressionEdges(t *testing.T) {
	expired := thresholdRules()
	for i := range expired.Rules {
		expired.Rules[i].ExpiresAt = rulesNow
	}
	otherRepo := thresholdRules()
	for i := range otherRepo.Rules {
		otherRepo.Rules[i].Repositories = []string{"payments/*"}
	}
	everything := domain.Suppressions{Rules: append(thresholdRules().Rules,
		suppression("s3", func(s *domain.Suppression) { s.Vulnerability, s.Reason = "380112", "r" }),
		suppression("s4", func(s *domain.Suppression) { s.SecretRule, s.Reason = "generic-api-key", "r" }))}
	tests := []struct {
		name     string
		src      *testkit.SuppressionSource
		alerts   bool
		note     string
		critical bool // the OpenSSL finding is alerted on
	}{
		{"expired rules suppress nothing", &testkit.SuppressionSource{Rules: expired}, true, "", true},
		{"rules scoped elsewhere", &testkit.SuppressionSource{Rules: otherRepo}, true, "", true},
		{"rules unreadable: every finding, and a note", &testkit.SuppressionSource{Err: errors.New("AccessDenied")}, true, noteRulesUnreadable, true},
		{"everything suppressed: no alert", &testkit.SuppressionSource{Rules: everything}, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rigWithRules(t, tt.src)
			if err := r.h.Handle(context.Background(), completedEvent(t)); err != nil {
				t.Fatal(err)
			}
			if got := len(r.pub.sent) == 1; got != tt.alerts {
				t.Fatalf("alert sent %v, want %v", got, tt.alerts)
			}
			if !tt.alerts {
				if !strings.Contains(r.logs.String(), `"suppressed":4`) {
					t.Errorf("the log does not count the suppressed findings:\n%s", r.logs)
				}
				return
			}
			body := r.pub.sent[0].Body
			if tt.note != "" && !strings.Contains(body, "Note: "+tt.note) {
				t.Errorf("body lacks the note %q", tt.note)
			}
			if got := strings.Contains(body, "1. CRITICAL  QID 379201"); got != tt.critical {
				t.Errorf("OpenSSL alerted %v, want %v:\n%s", got, tt.critical, body)
			}
			if strings.Contains(body, "Suppressed (") {
				t.Errorf("nothing was suppressed, yet the body has a suppressed section")
			}
		})
	}
}

// A report that cannot be read when rules apply: the alert goes out on
// the event's summary, saying no suppression could be applied.
func TestSuppressionReportUnreadable(t *testing.T) {
	r := rigWithRules(t, &testkit.SuppressionSource{Rules: thresholdRules()})
	r.reports.err = errors.New("SlowDown")
	if err := r.h.Handle(context.Background(), completedEvent(t)); err != nil {
		t.Fatal(err)
	}
	if len(r.pub.sent) != 1 || !strings.Contains(r.pub.sent[0].Body, noteReportUnreadable) || !strings.Contains(r.pub.sent[0].Body, "QID 379201") {
		t.Fatalf("sent %+v", r.pub.sent)
	}
}

// TestChannelsStayWithinSNSLimit: the hostile event of
// TestBodyStaysBoundedAndSafe, with suppressions of maximal reasons, still
// fits SNS's 256 KiB with every protocol's message together.
func TestChannelsStayWithinSNSLimit(t *testing.T) {
	huge := strings.Repeat(`"<x>\`, 800)
	rep := &domain.Report{Digest: testkit.Digest}
	for i := range 2000 {
		rep.Vulnerabilities = append(rep.Vulnerabilities, domain.Vulnerability{QID: "1" + strings.Repeat("0", i%9), Title: huge, Severity: domain.SeverityCritical, CVEs: []string{huge}, Packages: []domain.Package{{Name: huge, InstalledVersion: huge}}})
		rep.Secrets = append(rep.Secrets, domain.Secret{RuleID: "rule-" + string(rune('a'+i%2)), Title: huge, Severity: domain.SeverityHigh, File: huge, StartLine: i})
	}
	reason := strings.Repeat(`"é\`, domain.MaxSuppressionReason/4)
	rules := domain.Suppressions{Rules: []domain.Suppression{
		suppression("s1", func(s *domain.Suppression) { s.Vulnerability, s.Reason = "1", reason }),
		suppression("s2", func(s *domain.Suppression) { s.SecretRule, s.Reason = "rule-a", reason }),
	}}
	sum := domain.Summarize(rep)
	var refs []domain.ImageRef
	for i := range domain.MaxReferences {
		refs = append(refs, testkit.MustRef(t, "team/"+strings.Repeat("r", 250), strings.Repeat("t", 290)+string(rune('a'+i%26))+strings.Repeat("x", i%9)))
	}
	ev := testkit.CompletedEvent(rep, refs...)
	ev.Summary = &sum
	r := rigWithRules(t, &testkit.SuppressionSource{Rules: rules})
	r.reports.report = rep
	if err := r.h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	a := r.pub.sent[0]
	msg, _, err := a.Message()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst-case message, every protocol together: %d bytes (text %d, chat %d, structured %d)", len(msg), len(a.Body), len(a.Protocols[protoChat]), len(a.Protocols[protoSQS]))
	if err := snsnotify.Validate(a); err != nil {
		t.Fatalf("SNS would refuse the alert: %v", err)
	}
	if !strings.Contains(a.Body, "Suppressed (") {
		t.Error("no suppressed section")
	}
}
