package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/lambdaenv"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/snsnotify"
)

func TestNewHandlerRejectsMissingDependencies(t *testing.T) {
	r := newRig(t, testConfig())
	if _, err := NewHandler(nil, r.reports, r.marks, testConfig(), nil); err == nil {
		t.Error("NewHandler accepted nil dependencies")
	}
	cfg := testConfig()
	cfg.ResultsBucket = ""
	if _, err := NewHandler(r.pub, r.reports, r.marks, cfg, discardLogger()); err == nil {
		t.Error("NewHandler accepted an empty results bucket")
	}
}

func TestLoadConfig(t *testing.T) {
	base := map[string]string{"TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts", "RESULTS_BUCKET": testkit.Bucket}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{
			name: "defaults are the original scanner's policy",
			env:  base,
			want: Config{Enabled: true, ResultsBucket: testkit.Bucket, Policy: domain.AlertPolicy{MinSeverity: domain.SeverityHigh, OnSecrets: true}, Lease: DefaultLease, Retention: DefaultRetention},
		},
		{
			name: "every setting",
			env:  with("ENABLE_ALERTS", "false", "MIN_ALERT_SEVERITY", "critical", "ALERT_ON_SECRETS", "false", "ALERT_FIXABLE_ONLY", "true"),
			want: Config{Enabled: false, ResultsBucket: testkit.Bucket, Policy: domain.AlertPolicy{MinSeverity: domain.SeverityCritical, FixableOnly: true}, Lease: DefaultLease, Retention: DefaultRetention},
		},
		{name: "unknown severity word", env: with("MIN_ALERT_SEVERITY", "SEVERE"), wantErr: "MIN_ALERT_SEVERITY"},
		{name: "UNKNOWN as a threshold", env: with("MIN_ALERT_SEVERITY", "UNKNOWN"), wantErr: "MIN_ALERT_SEVERITY"},
		{name: "bad boolean", env: with("ENABLE_ALERTS", "maybe"), wantErr: "ENABLE_ALERTS"},
		{name: "missing topic and bucket", env: map[string]string{}, wantErr: "TOPIC_ARN is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := lambdaenv.FromMap(tc.env)
			cfg, topic := LoadConfig(env)
			err := env.Err()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Err() = %v, want one mentioning %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if topic != base["TOPIC_ARN"] || !reflect.DeepEqual(cfg, tc.want) {
				t.Errorf("LoadConfig = %+v, %q; want %+v", cfg, topic, tc.want)
			}
		})
	}
	env := lambdaenv.FromMap(map[string]string{})
	LoadConfig(env)
	if err := env.Err(); err == nil || !strings.Contains(err.Error(), "RESULTS_BUCKET is required") {
		t.Errorf("Err() = %v, want it to list RESULTS_BUCKET too", err)
	}
}

func TestPolicyDecidesWhetherAndWhatToAlert(t *testing.T) {
	vuln := func(qid string, sev domain.Severity, fixed string) domain.Vulnerability {
		return domain.Vulnerability{QID: qid, Severity: sev, Packages: []domain.Package{{Name: "p", InstalledVersion: "1", FixedVersion: fixed}}}
	}
	secret := domain.Secret{RuleID: "aws-access-key-id", Severity: domain.SeverityCritical, File: "/app/.env", StartLine: 1}
	tests := []struct {
		name         string
		policy       domain.AlertPolicy
		report       domain.Report
		wantKind     string // empty: no alert
		wantSeverity string
	}{
		{"critical vulnerability", domain.DefaultAlertPolicy, domain.Report{Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityCritical, "")}}, KindVulnerabilities, "CRITICAL"},
		{"high vulnerability", domain.DefaultAlertPolicy, domain.Report{Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityHigh, "")}}, KindVulnerabilities, "HIGH"},
		{"medium is below the default threshold", domain.DefaultAlertPolicy, domain.Report{Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityMedium, "2")}}, "", ""},
		{"medium with a MEDIUM threshold", domain.AlertPolicy{MinSeverity: domain.SeverityMedium}, domain.Report{Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityMedium, "2")}}, KindVulnerabilities, "MEDIUM"},
		{"high is below a CRITICAL threshold", domain.AlertPolicy{MinSeverity: domain.SeverityCritical}, domain.Report{Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityHigh, "2")}}, "", ""},
		{"fixable only: unfixable critical stays quiet", domain.AlertPolicy{MinSeverity: domain.SeverityHigh, FixableOnly: true}, domain.Report{Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityCritical, "")}}, "", ""},
		{"fixable only: fixable high alerts", domain.AlertPolicy{MinSeverity: domain.SeverityHigh, FixableOnly: true}, domain.Report{Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityCritical, ""), vuln("2", domain.SeverityHigh, "2")}}, KindVulnerabilities, "HIGH"},
		{"secret with secrets on", domain.DefaultAlertPolicy, domain.Report{Secrets: []domain.Secret{secret}}, KindSecrets, "CRITICAL"},
		{"secret with secrets off", domain.AlertPolicy{MinSeverity: domain.SeverityHigh}, domain.Report{Secrets: []domain.Secret{secret}}, "", ""},
		{"both", domain.DefaultAlertPolicy, domain.Report{Vulnerabilities: []domain.Vulnerability{vuln("1", domain.SeverityHigh, "")}, Secrets: []domain.Secret{secret}}, KindBoth, "CRITICAL"},
		{"clean image", domain.DefaultAlertPolicy, domain.Report{}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Policy = tc.policy
			r := newRig(t, cfg)
			rep := tc.report
			rep.Digest = testkit.Digest
			r.reports.report = &rep
			if err := r.h.Handle(context.Background(), testkit.CompletedEvent(&rep, testkit.MustRef(t, "team/app", "v1"))); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if tc.wantKind == "" {
				if len(r.pub.sent) != 0 || len(r.marks.Calls()) != 0 {
					t.Errorf("sent %d alerts (marker calls %q), want none", len(r.pub.sent), r.marks.Calls())
				}
				if !strings.Contains(r.logs.String(), "below the alert policy") {
					t.Errorf("no log line says why nothing was sent:\n%s", r.logs)
				}
				return
			}
			if len(r.pub.sent) != 1 {
				t.Fatalf("sent %d alerts, want 1", len(r.pub.sent))
			}
			a := r.pub.sent[0]
			if a.Attributes[AttrKind] != tc.wantKind || a.Attributes[AttrSeverity] != tc.wantSeverity {
				t.Errorf("kind %q severity %q, want %q %q", a.Attributes[AttrKind], a.Attributes[AttrSeverity], tc.wantKind, tc.wantSeverity)
			}
			if a.Attributes[AttrRepository] != "team/app" || a.Attributes[AttrImageDigest] != testkit.Digest.String() {
				t.Errorf("attributes %v do not name the repository and digest", a.Attributes)
			}
			if a.Subject != "Security Alert: team/app:v1" {
				t.Errorf("subject %q", a.Subject)
			}
			if err := snsnotify.Validate(a); err != nil {
				t.Errorf("the alert would be refused: %v", err)
			}
			wantReads := 0
			if tc.wantKind != KindVulnerabilities {
				wantReads = 1
			}
			if r.reports.reads != wantReads {
				t.Errorf("report read %d times, want %d (only for secret details)", r.reports.reads, wantReads)
			}
		})
	}
}

func TestAlertsDisabled(t *testing.T) {
	cfg := testConfig()
	cfg.Enabled = false
	r := newRig(t, cfg)
	for _, ev := range []events.ScanEvent{
		testkit.CompletedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "team/app", "v1")),
		testkit.FailedEvent(domain.Failure{Class: domain.FailureTimeout}, testkit.MustRef(t, "team/app", "v1")),
	} {
		if err := r.h.Handle(context.Background(), ev); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	if r.pub.calls != 0 || len(r.marks.Calls()) != 0 || r.reports.reads != 0 {
		t.Errorf("disabled alerts still published %d, marked %q, read %d", r.pub.calls, r.marks.Calls(), r.reports.reads)
	}
	if !strings.Contains(r.logs.String(), "alerts disabled") {
		t.Errorf("no log line says alerts are disabled:\n%s", r.logs)
	}
}

func TestScanFailedAlertsEachRepository(t *testing.T) {
	r := newRig(t, testConfig())
	ev := testkit.FailedEvent(domain.Failure{Class: domain.FailureQualysAuth, Reason: "token refused (HTTP 401)", ExitCode: 11},
		testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", ""))
	if err := r.h.Handle(context.Background(), ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(r.pub.sent) != 2 {
		t.Fatalf("sent %d alerts, want one per repository", len(r.pub.sent))
	}
	wantSubjects := []string{"Scan Failed: team/app:v1", "Scan Failed: other/app@sha256:9f86d081884c"}
	for i, a := range r.pub.sent {
		if a.Subject != wantSubjects[i] {
			t.Errorf("alert %d subject %q, want %q", i, a.Subject, wantSubjects[i])
		}
		if a.Attributes[AttrKind] != KindScanFailed || a.Attributes[AttrSeverity] != "UNKNOWN" {
			t.Errorf("alert %d attributes %v", i, a.Attributes)
		}
		for _, want := range []string{"qualys_auth", "token refused (HTTP 401)", "Exit code:    11", "check the token secret"} {
			if !strings.Contains(a.Body, want) {
				t.Errorf("alert %d body lacks %q:\n%s", i, want, a.Body)
			}
		}
		if strings.Contains(a.Body, "scan-results/") {
			t.Errorf("a failed scan's alert points at an archive object that is never written:\n%s", a.Body)
		}
	}
	if r.reports.reads != 0 {
		t.Errorf("report read %d times for a failed scan", r.reports.reads)
	}
}

func TestScanFailedWithPartialResults(t *testing.T) {
	r := newRig(t, testConfig())
	ev := testkit.FailedEvent(domain.Failure{Class: domain.FailurePartialReport, Reason: "vulnerability scan incomplete", ExitCode: 40}, testkit.MustRef(t, "team/app", "v1"))
	sum := domain.Summarize(&domain.Report{Partial: true, Secrets: []domain.Secret{{RuleID: "x", Severity: domain.SeverityCritical, File: "/f"}}})
	ev.Summary = &sum
	if err := r.h.Handle(context.Background(), ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(r.pub.sent) != 1 {
		t.Fatalf("sent %d alerts, want 1", len(r.pub.sent))
	}
	a := r.pub.sent[0]
	if a.Attributes[AttrSeverity] != "CRITICAL" || !strings.Contains(a.Body, "Partial results") {
		t.Errorf("severity %q; body:\n%s", a.Attributes[AttrSeverity], a.Body)
	}
}

func TestOneAlertPerScanAndRepository(t *testing.T) {
	r := newRig(t, testConfig())
	ctx := context.Background()
	rep := testkit.ThresholdReport()
	app, other := testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", "v1")

	steps := []struct {
		name        string
		ev          events.ScanEvent
		wantNew     []string // subjects of the alerts this step adds
		wantSkipLog bool
	}{
		{"scan completed for two repositories", testkit.CompletedEvent(rep, app, other), []string{"Security Alert: team/app:v1", "Security Alert: other/app:v1"}, false},
		{"the same event redelivered", testkit.CompletedEvent(rep, app, other), nil, true},
		{"new tag in an alerted repository", testkit.ReferencedEvent(rep, testkit.MustRef(t, "team/app", "v2"), app, other), nil, true},
		{"new repository", testkit.ReferencedEvent(rep, testkit.MustRef(t, "third/svc", "prod"), app, other), []string{"Security Alert: third/svc:prod"}, false},
		{"a replay alerts again", func() events.ScanEvent {
			ev := testkit.CompletedEvent(rep, app, other)
			ev.ReplayID = "r-1"
			return ev
		}(), []string{"Security Alert: team/app:v1", "Security Alert: other/app:v1"}, false},
	}
	for _, st := range steps {
		before := len(r.pub.sent)
		r.logs.Reset()
		if err := r.h.Handle(ctx, st.ev); err != nil {
			t.Fatalf("%s: Handle: %v", st.name, err)
		}
		var got []string
		for _, a := range r.pub.sent[before:] {
			got = append(got, a.Subject)
		}
		if !reflect.DeepEqual(got, st.wantNew) {
			t.Errorf("%s: sent %q, want %q", st.name, got, st.wantNew)
		}
		if st.wantSkipLog && !strings.Contains(r.logs.String(), "alert already sent") {
			t.Errorf("%s: no log line about the skipped alert:\n%s", st.name, r.logs)
		}
	}
	wantKeys := []string{
		"alert#" + testkit.ScanID + "#123456789012/eu-west-1/team/app",
		"alert#" + testkit.ScanID + "#123456789012/eu-west-1/other/app",
		"alert#" + testkit.ScanID + "#123456789012/eu-west-1/third/svc",
		"alert#" + testkit.ScanID + "#123456789012/eu-west-1/team/app#replay#r-1",
		"alert#" + testkit.ScanID + "#123456789012/eu-west-1/other/app#replay#r-1",
	}
	markers := r.marks.Markers()
	for _, k := range wantKeys {
		// Each alert and the record of its publish attempt.
		if markers[k] != testkit.MarkerDone || markers[k+"#publish"] != testkit.MarkerDone {
			t.Errorf("markers %s = %q, its publish attempt %q; want both done", k, markers[k], markers[k+"#publish"])
		}
	}
	if len(markers) != 2*len(wantKeys) {
		t.Errorf("%d markers, want %d: %v", len(markers), 2*len(wantKeys), markers)
	}
}

// A tag pushed to an already alerted repository while the scan still stands
// as the cache is an ImageReferenced event of the same scan, however late:
// the alert marker, kept as the configuration says, still holds it back. (A
// hard-coded 90-day retention let the first case alert twice.)
func TestLateTagDoesNotAlertAgain(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name  string
		env   map[string]string
		delay time.Duration // from the first alert to the late tag
	}{
		{name: "ten-year cache, tag after 91 days", env: map[string]string{"CACHE_TTL_DAYS": "3650"}, delay: 91 * day},
		{name: "ten-year cache, tag on its last day", env: map[string]string{"CACHE_TTL_DAYS": "3650"}, delay: 3650*day - time.Hour},
		{name: "month cache, tag on its last day", env: map[string]string{"CACHE_TTL_DAYS": "30"}, delay: 30*day - time.Hour},
		{name: "retention exactly the cache, tag on its last day", env: map[string]string{"CACHE_TTL_DAYS": "30", "IDEMPOTENCY_RETENTION": "720h"}, delay: 30*day - time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["TOPIC_ARN"], tc.env["RESULTS_BUCKET"] = "arn:aws:sns:eu-west-1:123456789012:alerts", testkit.Bucket
			env := lambdaenv.FromMap(tc.env)
			cfg, _ := LoadConfig(env)
			if err := env.Err(); err != nil {
				t.Fatal(err)
			}
			clock := testkit.NewClock(testkit.ScannedAt)
			pub := &fakePublisher{}
			h, err := NewHandler(pub, &fakeReports{report: testkit.ThresholdReport()}, testkit.NewMemoryIdempotencyStore(clock.Now), cfg, discardLogger())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rep := testkit.ThresholdReport()
			app := testkit.MustRef(t, "team/app", "v1")
			steps := []struct {
				name    string
				ev      events.ScanEvent
				wantNew int
			}{
				{"scan completed", testkit.CompletedEvent(rep, app), 1},
				{"late tag in the alerted repository", testkit.ReferencedEventAt(rep, clock.Now().Add(tc.delay), testkit.MustRef(t, "team/app", "v2"), app), 0},
				{"late push to a new repository", testkit.ReferencedEventAt(rep, clock.Now().Add(tc.delay+time.Minute), testkit.MustRef(t, "other/app", "v1"), app), 1},
			}
			for i, st := range steps {
				if i == 1 {
					clock.Advance(tc.delay)
				}
				before := len(pub.sent)
				if err := h.Handle(ctx, st.ev); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if got := len(pub.sent) - before; got != st.wantNew {
					t.Errorf("%s: %d alerts, want %d", st.name, got, st.wantNew)
				}
			}
		})
	}
}

func TestPublishFailureAbandonsTheMarkerAndRetries(t *testing.T) {
	r := newRig(t, testConfig())
	ctx := context.Background()
	ev := testkit.CompletedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "team/app", "v1"))
	key := "alert#" + testkit.ScanID + "#123456789012/eu-west-1/team/app"
	throttled := errors.New("Throttling: rate exceeded")
	r.pub.errs = []error{throttled}

	err := r.h.Handle(ctx, ev)
	if !errors.Is(err, throttled) || consume.IsPermanent(err) {
		t.Fatalf("Handle error = %v, want a retryable one wrapping the publish error", err)
	}
	if want := []string{"start " + key, "start " + key + "#publish", "abandon " + key + "#publish", "abandon " + key}; !reflect.DeepEqual(r.marks.Calls(), want) {
		t.Errorf("marker calls %q, want %q", r.marks.Calls(), want)
	}
	if len(r.pub.sent) != 0 {
		t.Fatalf("%d alerts recorded as sent", len(r.pub.sent))
	}

	if err := r.h.Handle(ctx, ev); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if len(r.pub.sent) != 1 || r.marks.Marker(key) != testkit.MarkerDone {
		t.Errorf("after the retry: %d alerts sent, marker %q; want 1, done", len(r.pub.sent), r.marks.Marker(key))
	}
}

// TestPublishWithoutAnAnswerIsNotRepeated: SNS may have published an alert
// whose reply was lost, and a standard topic cannot drop a second copy, so
// the alert counts as sent and a redelivery publishes nothing.
func TestPublishWithoutAnAnswerIsNotRepeated(t *testing.T) {
	r := newRig(t, testConfig())
	ctx := context.Background()
	ev := testkit.CompletedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "team/app", "v1"))
	key := "alert#" + testkit.ScanID + "#123456789012/eu-west-1/team/app"
	r.pub.errs = []error{fmt.Errorf("publish: %w: EOF", snsnotify.ErrOutcomeUnknown)}

	if err := r.h.Handle(ctx, ev); err != nil {
		t.Fatalf("Handle = %v, want the alert counted as sent", err)
	}
	if err := r.h.Handle(ctx, ev); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if r.pub.calls != 1 || r.marks.Marker(key) != testkit.MarkerDone {
		t.Errorf("%d publishes, marker %q; want 1, done", r.pub.calls, r.marks.Marker(key))
	}
	if !strings.Contains(r.logs.String(), "not sent again") {
		t.Errorf("the unknown outcome is not logged:\n%s", r.logs.String())
	}
}

// TestAnAttemptThatDiedWhilePublishingIsNotRepeated: an attempt killed
// after it began publishing (its alert key's lease run out, its publish
// attempt recorded) may have reached SNS, so the retry sends nothing and
// counts the alert as sent; one killed before publishing is retried in full.
func TestAnAttemptThatDiedWhilePublishingIsNotRepeated(t *testing.T) {
	for _, tc := range []struct {
		name           string
		diedPublishing bool
		wantPublishes  int
	}{
		{name: "died while publishing", diedPublishing: true, wantPublishes: 0},
		{name: "died before publishing", wantPublishes: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, testConfig())
			ctx := context.Background()
			ev := testkit.CompletedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "team/app", "v1"))
			key := "alert#" + testkit.ScanID + "#123456789012/eu-west-1/team/app"
			// The dead attempt's markers: its lease on the key has run out.
			if err := r.marks.Start(ctx, key, time.Nanosecond); err != nil {
				t.Fatal(err)
			}
			if tc.diedPublishing {
				if err := r.marks.Start(ctx, key+"#publish", time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Millisecond)
			if err := r.h.Handle(ctx, ev); err != nil {
				t.Fatalf("Handle = %v", err)
			}
			if r.pub.calls != tc.wantPublishes || r.marks.Marker(key) != testkit.MarkerDone {
				t.Errorf("%d publishes, marker %q; want %d, done", r.pub.calls, r.marks.Marker(key), tc.wantPublishes)
			}
		})
	}
}

func TestHandleErrors(t *testing.T) {
	app, other := testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", "v1")
	invalid := fmt.Errorf("publish: %w alert: subject too long", domain.ErrInvalid)
	transient := errors.New("connection reset")
	tests := []struct {
		name          string
		setup         func(*testing.T, *testRig)
		ev            func() events.ScanEvent
		wantPermanent bool
		wantIs        error
		wantSent      int
	}{
		{
			name:          "SNS refusing the alert is permanent",
			setup:         func(_ *testing.T, r *testRig) { r.pub.errs = []error{invalid} },
			ev:            func() events.ScanEvent { return testkit.CompletedEvent(testkit.ThresholdReport(), app) },
			wantPermanent: true, wantIs: domain.ErrInvalid,
		},
		{
			name:  "one repository refused: permanent, the others still sent",
			setup: func(_ *testing.T, r *testRig) { r.pub.failOn = map[string]error{"team/app": invalid, "other/app": nil} },
			ev: func() events.ScanEvent {
				return testkit.CompletedEvent(testkit.ThresholdReport(), app, other, testkit.MustRef(t, "x/y", "1"))
			},
			wantPermanent: true, wantIs: domain.ErrInvalid, wantSent: 2,
		},
		{
			name: "mixed permanent and retryable failures are retried",
			setup: func(_ *testing.T, r *testRig) {
				r.pub.failOn = map[string]error{"team/app": invalid, "other/app": transient}
			},
			ev:            func() events.ScanEvent { return testkit.CompletedEvent(testkit.ThresholdReport(), app, other) },
			wantPermanent: false, wantIs: transient,
		},
		{
			name: "another delivery holds the marker",
			setup: func(t *testing.T, r *testRig) {
				// Another process's handle on the same markers.
				if err := r.marks.Peer().Start(context.Background(), "alert#"+testkit.ScanID+"#123456789012/eu-west-1/team/app", time.Hour); err != nil {
					t.Fatal(err)
				}
			},
			ev:     func() events.ScanEvent { return testkit.CompletedEvent(testkit.ThresholdReport(), app) },
			wantIs: consume.ErrBusy,
		},
		{
			name:   "idempotency store unavailable",
			setup:  func(_ *testing.T, r *testRig) { r.marks.FailStart(transient) },
			ev:     func() events.ScanEvent { return testkit.CompletedEvent(testkit.ThresholdReport(), app) },
			wantIs: transient,
		},
		{
			name: "completed event without a summary",
			ev: func() events.ScanEvent {
				ev := testkit.CompletedEvent(testkit.ThresholdReport(), app)
				ev.Summary = nil
				return ev
			},
			wantPermanent: true, wantIs: domain.ErrInvalid,
		},
		{
			name: "event without a scan ID",
			ev: func() events.ScanEvent {
				ev := testkit.CompletedEvent(testkit.ThresholdReport(), app)
				ev.ScanID = ""
				return ev
			},
			wantPermanent: true, wantIs: domain.ErrInvalid,
		},
		{
			name: "unpublished event type",
			ev: func() events.ScanEvent {
				ev := testkit.CompletedEvent(testkit.ThresholdReport(), app)
				ev.EventType = domain.EventScanRetrying
				return ev
			},
			wantPermanent: true, wantIs: domain.ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, testConfig())
			if tc.setup != nil {
				tc.setup(t, r)
			}
			err := r.h.Handle(context.Background(), tc.ev())
			if err == nil {
				t.Fatal("Handle succeeded")
			}
			if got := consume.IsPermanent(err); got != tc.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tc.wantPermanent)
			}
			if !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			}
			if len(r.pub.sent) != tc.wantSent {
				t.Errorf("%d alerts sent, want %d", len(r.pub.sent), tc.wantSent)
			}
			if !strings.Contains(err.Error(), testkit.Digest.String()) {
				t.Errorf("error %q does not name the digest", err)
			}
		})
	}
}

func TestSecretDetails(t *testing.T) {
	const leaked = "AKIAIOSFODNN7EXAMPLE"
	tests := []struct {
		name      string
		reports   *fakeReports
		wantLines []string
	}{
		{
			name:      "listed by rule, title and location, worst first",
			reports:   &fakeReports{report: testkit.ThresholdReport()},
			wantLines: []string{"  1. HIGH  aws-access-key-id  AWS Access Key  /app/.env:3", "  2. MEDIUM  generic-api-key  Generic API Key  /etc/app/config.yaml:12"},
		},
		{
			name:      "report unreadable: the alert still goes out",
			reports:   &fakeReports{err: errors.New("AccessDenied")},
			wantLines: []string{"  2 found; details could not be read, see the full report."},
		},
		{
			name:      "report of another digest is not trusted",
			reports:   &fakeReports{report: &domain.Report{Digest: domain.Digest("sha256:" + strings.Repeat("e", 64)), Secrets: []domain.Secret{{RuleID: "other", File: "/x"}}}},
			wantLines: []string{"  2 found; details could not be read, see the full report."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, testConfig())
			r.reports = tc.reports
			r.h.reports = tc.reports
			ev := testkit.CompletedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "team/app", "v1"), testkit.MustRef(t, "other/app", "v1"))
			if err := r.h.Handle(context.Background(), ev); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(r.pub.sent) != 2 {
				t.Fatalf("sent %d alerts, want 2", len(r.pub.sent))
			}
			if tc.reports.reads != 1 {
				t.Errorf("report read %d times, want once per event", tc.reports.reads)
			}
			for _, a := range r.pub.sent {
				for _, line := range tc.wantLines {
					if !strings.Contains(a.Body, "\n"+line+"\n") {
						t.Errorf("body lacks line %q:\n%s", line, a.Body)
					}
				}
				if strings.Contains(a.Body, leaked) {
					t.Errorf("body holds secret text")
				}
			}
		})
	}
}

// Secret text must not reach an alert even if a report still carried it
// (domain.Secret has no field for it, so decoding drops it).
func TestAlertNeverCarriesSecretText(t *testing.T) {
	const leaked = "AKIAIOSFODNN7EXAMPLE"
	var rep domain.Report
	raw := `{"digest":"` + string(testkit.Digest) + `","vulnerabilities":[],"secrets":[{"ruleId":"aws-access-key-id","severity":"HIGH","file":"/app/.env","startLine":3,"match":"` + leaked + `","secret":"` + leaked + `","snippet":"` + leaked + `"}]}`
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, testConfig())
	r.reports.report = &rep
	if err := r.h.Handle(context.Background(), testkit.CompletedEvent(&rep, testkit.MustRef(t, "team/app", "v1"))); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(r.pub.sent) != 1 {
		t.Fatalf("sent %d alerts, want 1", len(r.pub.sent))
	}
	a := r.pub.sent[0]
	if strings.Contains(a.Subject+a.Body+fmt.Sprint(a.Attributes)+r.logs.String(), leaked) {
		t.Fatalf("secret text reached the alert or the log:\n%s", a.Body)
	}
	if !strings.Contains(a.Body, "aws-access-key-id") || !strings.Contains(a.Body, "/app/.env:3") {
		t.Errorf("the secret's rule and location are missing:\n%s", a.Body)
	}
}

// An alert's lease lasts as long as the invocation that holds it can: a
// marker outliving its holder's deadline would only hold off the retry.
func TestLeaseFollowsTheInvocationDeadline(t *testing.T) {
	r := newRig(t, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got := r.h.lease(ctx); got < 30*time.Second || got > 30*time.Second+leaseMargin {
		t.Errorf("lease with 30s left = %v, want 30s plus at most %v", got, leaseMargin)
	}
	if got := r.h.lease(context.Background()); got != DefaultLease {
		t.Errorf("lease without a deadline = %v, want %v", got, DefaultLease)
	}
}

// blockingPublisher answers only when the context ends (a throttled publish
// whose backoff outlives the invocation): nothing was published.
type blockingPublisher struct{ calls int }

func (b *blockingPublisher) Publish(ctx context.Context, _ snsnotify.Alert) error {
	b.calls++
	if b.calls == 1 {
		<-ctx.Done()
		return fmt.Errorf("publish: Throttling, retry quota exceeded: %w", ctx.Err())
	}
	return nil
}

// TestAPublishThatRanOutOfTimeIsSentByTheRetry: the markers of a publish
// that failed at the invocation's deadline are dropped all the same, so the
// redelivery sends the alert instead of taking it for sent.
func TestAPublishThatRanOutOfTimeIsSentByTheRetry(t *testing.T) {
	marks := testkit.NewMemoryIdempotencyStore(nil) // fails a call under an ended context, as a real store does
	pub := &blockingPublisher{}
	h, err := NewHandler(pub, &fakeReports{report: testkit.ThresholdReport()}, marks, testConfig(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ev := testkit.CompletedEvent(testkit.ThresholdReport(), testkit.MustRef(t, "team/app", "v1"))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := h.Handle(ctx, ev); err == nil {
		t.Fatal("Handle succeeded although the publish ran out of time")
	}
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if pub.calls != 2 {
		t.Errorf("%d publishes, want the redelivery to publish (2 calls)", pub.calls)
	}
}
