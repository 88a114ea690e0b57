// Package tracing is the project's one door to distributed tracing. Today it
// speaks AWS X-Ray through aws-xray-sdk-go (in maintenance mode); nothing
// outside this package imports the SDK, and nothing in this package's API
// names it, so a move to OpenTelemetry changes this package only.
//
// Two kinds of span exist:
//   - Start opens a child of whatever the context carries: in a Lambda
//     function with active tracing, the invocation's own segment (the facade
//     Lambda emits itself), or a span opened earlier.
//   - Continue opens a new segment that joins a trace recorded elsewhere,
//     given its header: X-Ray does not carry context through DynamoDB
//     streams, Pipes or EventBridge, so a downstream handler continues the
//     trace header the scan stored on its record.
//
// Both return a nil *Span, which is valid and does nothing, when there is no
// sampled trace to join, so callers never branch on tracing being on.
// Emission is a UDP datagram to the daemon (AWS_XRAY_DAEMON_ADDRESS; Lambda
// sets it): fire-and-forget, and harmless when no daemon listens.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
)

// Setup prepares the process for tracing; call it first thing in main,
// before anything traces. The SDK's own log lines (it would print them on
// stdout, which Lambda ships as log records) go to logger at debug level, and
// so does the SDK's complaint about an AWS call made outside any trace
// (local runs, tests, start-up) — it never panics. An
// AWS_XRAY_CONTEXT_MISSING setting, which the SDK always honours, still
// wins; Lambda sets it to LOG_ERROR, which is logged the same way.
//
// Setup reads the daemon address from AWS_XRAY_DAEMON_ADDRESS again, so a
// test that sets the variable after the SDK initialised can call it; calling
// it more than once is safe as long as no span is open.
func Setup(logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default()
	}
	sdkLog.logger.Store(logger)
	setLoggerOnce.Do(func() { xray.SetLogger(sdkLog) })
	if err := xray.Configure(xray.Config{ContextMissingStrategy: quietContextMissing{}}); err != nil {
		logger.Warn("tracing: X-Ray daemon address not usable; segments go to the default", attr.Err(err))
	}
}

// Instrument makes every client built from cfg record each AWS call as a
// span (service, operation, region, request ID, status) under the span in
// the call's context. Its signature is awsconfig.Option's:
//
//	cfg, err := awsconfig.Load(ctx, tracing.Instrument)
//
// A call whose context carries no trace records nothing.
func Instrument(cfg *aws.Config) {
	awsv2.AWSV2Instrumentor(&cfg.APIOptions)
}

// InvocationHeader is the trace header of the Lambda invocation handling ctx
// ("Root=…;Parent=…;Sampled=…", Parent being the function segment Lambda
// records), or "" outside Lambda or without active tracing. It is what a
// handler stores so that work downstream can Continue the trace.
func InvocationHeader(ctx context.Context) string {
	h, _ := ctx.Value(xray.LambdaTraceHeaderKey).(string)
	return h
}

// Span is one timed unit of work in a trace. A nil *Span is valid: every
// method does nothing. Methods are safe for concurrent use.
type Span struct {
	seg *xray.Segment
}

// Start opens a span named name as a child of the span ctx carries or, in a
// Lambda invocation with a sampled trace header, of the invocation's own
// segment. Work done with the returned context (AWS calls, further Starts)
// nests under the span. Without a sampled trace it returns ctx and nil.
func Start(ctx context.Context, name string) (context.Context, *Span) {
	if xray.GetSegment(ctx) == nil {
		h, err := ParseHeader(InvocationHeader(ctx))
		if err != nil || !h.Sampled {
			return ctx, nil
		}
	}
	ctx, seg := xray.BeginSubsegment(ctx, name)
	if seg == nil {
		return ctx, nil
	}
	return ctx, &Span{seg: seg}
}

// Continue opens a new top-level span named name in the trace that header
// identifies, as a child of header's Parent: the way work that reached this
// process through a stream, a Pipe or a bus joins the trace that caused it.
// It sits beside whatever the process records for itself (in Lambda, the
// invocation's segment in a trace of its own). Work done with the returned
// context nests under the span. An empty, malformed or unsampled header
// returns ctx and nil: the upstream decided not to record the trace.
//
// A header whose trace began more than MaxContinueAge ago is not continued
// either: X-Ray would refuse the segment (see MaxContinueAge). Joinable says
// whether Continue would join a header.
func Continue(ctx context.Context, name, header string) (context.Context, *Span) {
	h, ok := Joinable(header, time.Now())
	if !ok {
		return ctx, nil
	}
	// The sampling decision was made upstream, so the SDK's own strategy (a
	// local rate, or rules polled from the daemon) must not second-guess it.
	// The segment is begun unsampled and then given the upstream decision:
	// a sampled segment from BeginSegment gets a goroutine that closes it
	// when its context ends, and in SDK 1.8.5 that goroutine races Close and
	// can emit the segment twice. The cost: a segment left open when its
	// context ends is not sent — Lambda freezes or kills the process then
	// anyway.
	ctx = context.WithValue(ctx, xray.RecorderContextKey{}, continueConfig)
	ctx, seg := xray.BeginSegmentWithSampling(ctx, name, nil, nil)
	seg.Lock()
	seg.Sampled, seg.Dummy = true, false
	seg.TraceID = h.TraceID
	seg.ID = xray.NewSegmentID()
	seg.ParentID = h.ParentID
	seg.Unlock()
	return ctx, &Span{seg: seg}
}

// MaxContinueAge is how old a trace may be for Continue to add to it. A
// trace ID carries the time of the original request ("the time of the
// original request, in Unix epoch time, in 8 hexadecimal digits",
// https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-traceids)
// and X-Ray keeps trace data for 30 days
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html): a
// segment for an older trace is refused, and so would be silently lost. A
// replay of month-old events, or a late redelivery, is traced under the
// handler's own invocation instead and linked by annotation (consume.Trace).
// One day short of 30 leaves room for clock skew and the daemon's batching.
const MaxContinueAge = 29 * 24 * time.Hour

// Joinable parses header and says whether Continue, at now, would join the
// trace it names: sampled, well formed, and begun within MaxContinueAge. The
// header is returned even when not joinable, so that a caller can still name
// the trace (as a link annotation) when it is well formed.
func Joinable(header string, now time.Time) (Header, bool) {
	h, err := ParseHeader(header)
	if err != nil {
		return Header{}, false
	}
	return h, h.Sampled && now.Sub(h.Started()) <= MaxContinueAge
}

// Header is the trace header of work this span causes: the span's trace,
// with the span itself as Parent. It is what a process stores or sends on
// for work elsewhere to Continue under this span — the propagation X-Ray
// documents, where the downstream's parent is the caller's (sub)segment ID
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader).
// "" for a nil span.
func (s *Span) Header() string {
	if s == nil {
		return ""
	}
	return Header{TraceID: s.TraceID(), ParentID: s.ID(), Sampled: true}.String()
}

// MaxAnnotationValue is X-Ray's limit on an annotation value: 1,000 Unicode
// characters (AWS X-Ray Developer Guide, "Add annotations and metadata to
// segments with the X-Ray SDK for Go", annotation requirements). Keys are the
// short snake_case names of infra/attr, far below their 500.
const MaxAnnotationValue = 1000

// Annotate records an indexed key/value on the span, which X-Ray can filter
// traces by (annotation.image_digest = "sha256:…"). A value over
// MaxAnnotationValue is cut on a character boundary and ends in "…", so a
// long input (an ECR image tag runs to 300 characters, a repository name to
// 256) never costs the segment; the cut value no longer matches an equality
// filter, which the mark makes plain.
func (s *Span) Annotate(key, value string) {
	if s == nil {
		return
	}
	// Truncate counts bytes, never more than the characters they encode.
	_ = s.seg.AddAnnotation(key, domain.Truncate(value, MaxAnnotationValue, domain.Ellipsis)) // fails only for non-scalar values
}

// End closes the span. A non-nil err is recorded as its cause and marks it a
// fault: the work failed, and a retry may succeed.
func (s *Span) End(err error) {
	if s == nil {
		return
	}
	s.seg.Close(err)
}

// Reject closes the span recording err as an error in what the work was
// given — X-Ray's "error" rather than "fault" — for a failure no retry can
// cure (a malformed message, say). A nil err just closes it.
func (s *Span) Reject(err error) {
	if s == nil {
		return
	}
	if err != nil {
		_ = s.seg.AddError(err)
		s.seg.Lock()
		s.seg.Fault, s.seg.Error = false, true
		s.seg.Unlock()
	}
	s.seg.Close(nil)
}

// TraceID is the ID of the trace the span belongs to; "" for a nil span.
func (s *Span) TraceID() string {
	if s == nil {
		return ""
	}
	s.seg.RLock()
	defer s.seg.RUnlock()
	return s.seg.TraceID
}

// ID is the span's own ID, the Parent of work it causes; "" for a nil span.
func (s *Span) ID() string {
	if s == nil {
		return ""
	}
	s.seg.RLock()
	defer s.seg.RUnlock()
	return s.seg.ID
}

var (
	sdkLog        = &slogAdapter{}
	setLoggerOnce sync.Once
	// continueConfig rides in the context of a continued segment; the
	// emitter and the other strategies stay the process-wide ones.
	continueConfig = &xray.Config{SamplingStrategy: decidedUpstream{}, ContextMissingStrategy: quietContextMissing{}}
)

// slogAdapter routes the SDK's logging to slog at debug level. The logger is
// swapped atomically because the SDK's is a plain global that may only be
// set once, before any tracing.
type slogAdapter struct {
	logger atomic.Pointer[slog.Logger]
}

func (a *slogAdapter) Log(level xraylog.LogLevel, msg fmt.Stringer) {
	l := a.logger.Load()
	// The SDK logs every segment it emits at debug; format nothing unless
	// someone reads it.
	if l == nil || !l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.Debug(msg.String(), slog.String("component", "xray"), slog.String("xray_level", level.String()))
}

// quietContextMissing is the strategy for an AWS call made outside any
// trace: expected in local runs, tests and start-up, so only worth a debug
// line.
type quietContextMissing struct{}

func (quietContextMissing) ContextMissing(v any) {
	sdkLog.Log(xraylog.LogLevelDebug, stringer(fmt.Sprint("no trace in context: ", v)))
}

type stringer string

func (s stringer) String() string { return string(s) }

// decidedUpstream declines to sample, so that Continue gets a segment with
// no context goroutine, to which it then applies the upstream's decision.
type decidedUpstream struct{}

func (decidedUpstream) ShouldTrace(*sampling.Request) *sampling.Decision {
	return &sampling.Decision{Sample: false}
}
