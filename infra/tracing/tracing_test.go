package tracing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-xray-sdk-go/xray"

	"ecrscanner/domain"
	"ecrscanner/infra/tracing/tracingtest"
)

// syncBuffer collects log output written from the SDK's goroutines too.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setup points the SDK at a fresh stand-in daemon and returns the log
// output at debug level.
func setup(t *testing.T) (*tracingtest.Daemon, *syncBuffer) {
	t.Helper()
	d := tracingtest.Listen(t)
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", d.Addr())
	t.Setenv("AWS_XRAY_CONTEXT_MISSING", "")
	logs := &syncBuffer{}
	Setup(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return d, logs
}

// invocation is the context aws-lambda-go gives a handler: the trace header
// of the invocation under the key the SDK reads.
func invocation(h Header) context.Context {
	//nolint:staticcheck // aws-lambda-go's own key is this plain string
	return context.WithValue(context.Background(), xray.LambdaTraceHeaderKey, h.String())
}

// dynamoStandIn answers every DynamoDB call with an empty ListTables result.
func dynamoStandIn(t *testing.T) *dynamodb.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Requestid", "req-1")
		_, _ = w.Write([]byte(`{"TableNames":[]}`))
	}))
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	Instrument(&cfg)
	return dynamodb.NewFromConfig(cfg)
}

func only(t *testing.T, docs []tracingtest.Document, name string) tracingtest.Document {
	t.Helper()
	var found []tracingtest.Document
	for _, d := range docs {
		if d.Name == name {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d documents named %q, want 1:\n%s", len(found), name, tracingtest.Tree(docs))
	}
	return found[0]
}

func named(names ...string) func([]tracingtest.Document) bool {
	return func(docs []tracingtest.Document) bool {
		seen := map[string]bool{}
		for _, d := range docs {
			seen[d.Name] = true
		}
		for _, n := range names {
			if !seen[n] {
				return false
			}
		}
		return true
	}
}

func TestStartRecordsSubsegmentsOfTheInvocation(t *testing.T) {
	d, _ := setup(t)
	h := NewHeader(time.Now())
	ctx := invocation(h)

	_, decode := Start(ctx, "decode")
	decode.Annotate("handler", "scan")
	decode.End(nil)

	runCtx, run := Start(ctx, "qscanner run")
	_, token := Start(runCtx, "token fetch")
	token.End(nil)
	run.Annotate("scan_id", "scan-1")
	run.End(nil)

	docs := d.Wait(t, 5*time.Second, "both subsegments", named("decode", "qscanner run"))
	for _, name := range []string{"decode", "qscanner run"} {
		doc := only(t, docs, name)
		if doc.Type != "subsegment" || doc.TraceID != h.TraceID || doc.ParentID != h.ParentID {
			t.Errorf("%s: type %q trace %s parent %s; want a subsegment of %s", name, doc.Type, doc.TraceID, doc.ParentID, h)
		}
		if doc.InProgress || doc.EndTime < doc.StartTime {
			t.Errorf("%s: not closed properly: %+v", name, doc)
		}
	}
	if got := only(t, docs, "decode").Annotation("handler"); got != "scan" {
		t.Errorf("decode annotation handler = %q, want scan", got)
	}
	runDoc := only(t, docs, "qscanner run")
	if runDoc.Annotation("scan_id") != "scan-1" {
		t.Errorf("qscanner run annotations %v", runDoc.Annotations)
	}
	if len(runDoc.Subsegments) != 1 || runDoc.Subsegments[0].Name != "token fetch" {
		t.Errorf("qscanner run children %v, want token fetch nested", runDoc.Subsegments)
	}
	if n := len(only(t, docs, "decode").Subsegments); n != 0 {
		t.Errorf("decode has %d children, want none", n)
	}
}

func TestContinueJoinsTheUpstreamTrace(t *testing.T) {
	d, _ := setup(t)
	upstream := NewHeader(time.Now())
	client := dynamoStandIn(t)

	ctx, span := Continue(context.Background(), "archive", upstream.String())
	if span.TraceID() != upstream.TraceID || span.ID() == "" || span.ID() == upstream.ParentID {
		t.Fatalf("span trace %s id %s; want trace %s and an ID of its own", span.TraceID(), span.ID(), upstream.TraceID)
	}
	span.Annotate("handler", "archive")
	stepCtx, step := Start(ctx, "write")
	if _, err := client.ListTables(stepCtx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	step.End(nil)
	span.End(nil)

	docs := d.Wait(t, 5*time.Second, "the archive segment", named("archive"))
	seg := only(t, docs, "archive")
	if seg.Type != "" || seg.TraceID != upstream.TraceID || seg.ParentID != upstream.ParentID || seg.ID != span.ID() {
		t.Errorf("segment type %q trace %s parent %s id %s; want a segment in %s under %s", seg.Type, seg.TraceID, seg.ParentID, seg.ID, upstream.TraceID, upstream.ParentID)
	}
	if seg.Annotation("handler") != "archive" || seg.Fault || seg.Error {
		t.Errorf("segment annotations %v fault %v error %v", seg.Annotations, seg.Fault, seg.Error)
	}
	write, ok := seg.Find("write")
	if !ok {
		t.Fatalf("no write subsegment:\n%s", tracingtest.Tree(docs))
	}
	if len(write.Subsegments) != 1 {
		t.Fatalf("write has %d children, want the DynamoDB call:\n%s", len(write.Subsegments), tracingtest.Tree(docs))
	}
	call := write.Subsegments[0]
	if call.Name != "DynamoDB" || call.Namespace != "aws" || call.Operation() != "ListTables" || call.AWS["request_id"] != "req-1" {
		t.Errorf("SDK call recorded as %s/%s %s %v", call.Namespace, call.Name, call.Operation(), call.AWS)
	}
}

func TestEndAndRejectMarkFailures(t *testing.T) {
	tests := []struct {
		name                 string
		end                  func(*Span)
		wantFault, wantError bool
	}{
		{"success", func(s *Span) { s.End(nil) }, false, false},
		{"retryable failure is a fault", func(s *Span) { s.End(errors.New("S3 unavailable")) }, true, false},
		{"rejected input is an error", func(s *Span) { s.Reject(errors.New("not a scan event")) }, false, true},
		{"reject without an error", func(s *Span) { s.Reject(nil) }, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := setup(t)
			h := NewHeader(time.Now())
			_, span := Continue(context.Background(), "handler", h.String())
			tc.end(span)
			doc := only(t, d.Wait(t, 5*time.Second, "the segment", named("handler")), "handler")
			if doc.Fault != tc.wantFault || doc.Error != tc.wantError {
				t.Errorf("fault %v error %v; want %v %v", doc.Fault, doc.Error, tc.wantFault, tc.wantError)
			}
			if failed := tc.wantFault || tc.wantError; failed != (len(doc.Cause) > 0) {
				t.Errorf("cause %s; want one only on failure", doc.Cause)
			}
		})
	}
}

func TestNothingIsRecordedWithoutASampledTrace(t *testing.T) {
	root := NewHeader(time.Now())
	unsampled := root
	unsampled.Sampled = false
	tests := []struct {
		name  string
		start func() (context.Context, *Span)
	}{
		{"start outside Lambda", func() (context.Context, *Span) { return Start(context.Background(), "work") }},
		{"start in an unsampled invocation", func() (context.Context, *Span) { return Start(invocation(unsampled), "work") }},
		{"continue an empty header", func() (context.Context, *Span) { return Continue(context.Background(), "work", "") }},
		{"continue an unsampled header", func() (context.Context, *Span) {
			return Continue(context.Background(), "work", unsampled.String())
		}},
		{"continue a garbled header", func() (context.Context, *Span) {
			return Continue(context.Background(), "work", "Root=garbage;Sampled=1")
		}},
	}
	d, _ := setup(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, span := tc.start()
			if span != nil {
				t.Fatalf("span %+v, want nil", span)
			}
			// A nil span and its context are usable as they are.
			span.Annotate("k", "v")
			child, sub := Start(ctx, "child")
			sub.End(errors.New("ignored"))
			span.Reject(nil)
			if sub != nil || child != ctx {
				t.Errorf("child of an untraced context: %+v", sub)
			}
		})
	}
	// The daemon gets datagrams in order from this process: once a sentinel
	// arrives, anything sent before it has too.
	_, sentinel := Continue(context.Background(), "sentinel", root.String())
	sentinel.End(nil)
	docs := d.Wait(t, 5*time.Second, "the sentinel", named("sentinel"))
	if len(docs) != 1 {
		t.Errorf("received %d documents, want only the sentinel:\n%s", len(docs), tracingtest.Tree(docs))
	}
}

func TestUntracedAWSCallsAreQuiet(t *testing.T) {
	_, logs := setup(t)
	client := dynamoStandIn(t)
	if _, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("untraced call: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "no trace in context") {
		t.Errorf("the missing context was not logged at all; logs:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, `"level":"DEBUG"`) {
			t.Errorf("logged above debug: %s", line)
		}
	}
}

func TestNoDaemonListening(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.LocalAddr().String()
	probe.Close()
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", addr)
	logs := &syncBuffer{}
	Setup(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	t.Cleanup(func() { Setup(slog.New(slog.DiscardHandler)) })

	h := NewHeader(time.Now())
	for i := 0; i < 20; i++ {
		ctx, span := Continue(context.Background(), "handler", h.String())
		_, sub := Start(ctx, "work")
		sub.End(nil)
		span.End(errors.New("fails, and nobody hears"))
		_, s := Start(invocation(h), "step")
		s.End(nil)
	}
	if out := logs.String(); out != "" {
		t.Errorf("tracing without a daemon logged at info or above:\n%s", out)
	}
}

func TestContinuedSegmentsAreSentOnce(t *testing.T) {
	d, _ := setup(t)
	h := NewHeader(time.Now())
	const n = 200
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		_, span := Continue(context.Background(), "handler", h.String())
		ids[span.ID()] = true
		span.End(nil)
	}
	_, sentinel := Continue(context.Background(), "sentinel", h.String())
	sentinel.End(nil)
	docs := d.Wait(t, 5*time.Second, "the sentinel", named("sentinel"))
	seen := map[string]int{}
	for _, doc := range docs {
		if doc.Name == "handler" {
			seen[doc.ID]++
		}
	}
	if len(ids) != n {
		t.Fatalf("%d distinct span IDs for %d spans", len(ids), n)
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("segment %s sent %d times, want once", id, seen[id])
		}
	}
}

// Annotation values stay within X-Ray's 1,000 characters: a 300-character
// ECR image tag (domain.MaxTagLen) is recorded whole, anything longer is cut
// on a character boundary with a mark.
func TestAnnotationsStayWithinXRayLimits(t *testing.T) {
	tag := "v" + strings.Repeat("1.2-_", 59) + "abcd"
	long := strings.Repeat("é", MaxAnnotationValue) // 2,000 bytes
	tests := []struct {
		name, key, value, want string
	}{
		{"300-character tag kept whole", "image_tag", tag, tag},
		{"over the limit cut with a mark", "long", long, strings.Repeat("é", (MaxAnnotationValue-len(domain.Ellipsis))/2) + domain.Ellipsis},
	}
	d, _ := setup(t)
	_, span := Start(invocation(NewHeader(time.Now())), "annotate")
	for _, tc := range tests {
		span.Annotate(tc.key, tc.value)
	}
	span.End(nil)
	doc := only(t, d.Wait(t, 5*time.Second, "the subsegment", named("annotate")), "annotate")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := doc.Annotation(tc.key)
			if got != tc.want || utf8.RuneCountInString(got) > MaxAnnotationValue || !utf8.ValidString(got) {
				t.Errorf("annotation %s: %d characters, valid UTF-8 %v; want %d", tc.key, utf8.RuneCountInString(got), utf8.ValidString(got), utf8.RuneCountInString(tc.want))
			}
		})
	}
}

func TestSpanHeaderNamesTheSpanAsParent(t *testing.T) {
	d, _ := setup(t)
	invoked := NewHeader(time.Now())
	_, claim := Start(invocation(invoked), "cache claim")
	stored := claim.Header()
	claim.End(nil)

	h, err := ParseHeader(stored)
	if err != nil {
		t.Fatal(err)
	}
	if h.TraceID != invoked.TraceID || h.ParentID != claim.ID() || !h.Sampled {
		t.Fatalf("header %s; want trace %s, parent %s (the subsegment), sampled", stored, invoked.TraceID, claim.ID())
	}
	_, archive := Continue(context.Background(), "archive", stored)
	archive.End(nil)
	docs := d.Wait(t, 5*time.Second, "the continued segment", named("archive"))
	if seg := only(t, docs, "archive"); seg.ParentID != claim.ID() {
		t.Errorf("archive segment parent %s, want the cache claim subsegment %s", seg.ParentID, claim.ID())
	}
	if (*Span)(nil).Header() != "" {
		t.Error("a nil span has a header")
	}
}

func TestJoinable(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(age time.Duration, sampled bool) string {
		h := NewHeader(now.Add(-age))
		h.Sampled = sampled
		return h.String()
	}
	tests := []struct {
		name   string
		header string
		want   bool
	}{
		{"fresh", at(time.Minute, true), true},
		{"28 days", at(28*24*time.Hour, true), true},
		{"exactly the limit", at(MaxContinueAge, true), true},
		{"30 days: X-Ray keeps no older trace", at(30*24*time.Hour, true), false},
		{"a second past the limit", at(MaxContinueAge+time.Second, true), false},
		{"unsampled", at(time.Minute, false), false},
		{"garbled", "Root=nonsense;Sampled=1", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, got := Joinable(tc.header, now)
			if got != tc.want {
				t.Errorf("Joinable(%q) = %v, want %v", tc.header, got, tc.want)
			}
			if tc.name == "30 days: X-Ray keeps no older trace" && h.TraceID == "" {
				t.Error("a well-formed old header should still be returned, to link by")
			}
		})
	}
}

func TestContinueLeavesOldTracesAlone(t *testing.T) {
	d, _ := setup(t)
	old := NewHeader(time.Now().Add(-30 * 24 * time.Hour))
	ctx := context.Background()
	got, span := Continue(ctx, "archive", old.String())
	if span != nil || got != ctx {
		t.Fatalf("Continue joined a %s-old trace", 30*24*time.Hour)
	}
	sentinel := NewHeader(time.Now())
	_, s := Continue(ctx, "sentinel", sentinel.String())
	s.End(nil)
	docs := d.Wait(t, 5*time.Second, "the sentinel", named("sentinel"))
	if n := len(tracingtest.InTrace(docs, old.TraceID)); n != 0 {
		t.Errorf("%d documents sent into the old trace", n)
	}
}
