package replay

import (
	"ecrscanner/infra/clock"

	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/eventpattern"
)

// Sink delivers replay events.
type Sink interface {
	// Send delivers evs and returns how many were delivered: put on the bus,
	// or sent to at least one queue (an event no target subscribes to is
	// not).
	Send(ctx context.Context, evs []events.ScanEvent) (int, error)
}

// EventBridge's PutEvents limits: entries per call and bytes per call, the
// size of an entry counted as EventBridge counts it.
const (
	maxPutEntries = 10
	maxPutBytes   = 256 * 1024
)

// PutEventsAPI is the part of the EventBridge API the bus sink uses.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// BusSink puts events on the image-scans bus, where every handler's rule
// sees them: what a live event does.
type BusSink struct {
	client   PutEventsAPI
	bus      string
	attempts int
	backoff  func(attempt int) time.Duration
}

var _ Sink = (*BusSink)(nil)

// BusOption configures a BusSink.
type BusOption func(*BusSink)

// WithBackoff replaces the pause before retrying entries PutEvents failed,
// for tests.
func WithBackoff(f func(attempt int) time.Duration) BusOption {
	return func(s *BusSink) { s.backoff = f }
}

// NewBusSink returns a sink onto the bus named bus.
func NewBusSink(client PutEventsAPI, bus string, opts ...BusOption) (*BusSink, error) {
	if client == nil || bus == "" {
		return nil, errors.New("bus sink: nil client or empty bus name")
	}
	s := &BusSink{client: client, bus: bus, attempts: 8, backoff: putBackoff}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// putBackoff is full jitter over a window that doubles from 100 ms to 5 s.
func putBackoff(attempt int) time.Duration {
	window := min(100*time.Millisecond<<min(attempt, 6), 5*time.Second)
	return rand.N(window) + time.Millisecond
}

// Send implements Sink: PutEvents in calls of at most ten entries and 256 KB.
// Entries EventBridge fails with a retryable code (throttling, internal
// failure) are sent again with backoff; the SDK's own retryer handles a call
// that fails as a whole.
func (s *BusSink) Send(ctx context.Context, evs []events.ScanEvent) (int, error) {
	var batch []ebtypes.PutEventsRequestEntry
	var ids []string
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.put(ctx, batch, ids)
		batch, ids, size = nil, nil, 0
		return err
	}
	for _, ev := range evs {
		e, err := ev.Entry()
		if err != nil {
			return 0, err
		}
		entry := ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(s.bus),
			Source:       aws.String(e.Source),
			DetailType:   aws.String(e.DetailType),
			Detail:       aws.String(string(e.Detail)),
			Time:         aws.Time(e.Time),
			Resources:    e.Resources,
		}
		n := entrySize(entry)
		if len(batch) == maxPutEntries || size+n > maxPutBytes {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		batch = append(batch, entry)
		ids = append(ids, ev.EventID)
		size += n
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return len(evs), nil
}

func (s *BusSink) put(ctx context.Context, entries []ebtypes.PutEventsRequestEntry, ids []string) error {
	for attempt := 1; ; attempt++ {
		out, err := s.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put %d events on %s: %w", len(entries), s.bus, err)
		}
		if out.FailedEntryCount == 0 {
			return nil
		}
		if len(out.Entries) != len(entries) {
			return fmt.Errorf("put events on %s: %d results for %d entries", s.bus, len(out.Entries), len(entries))
		}
		var retry []ebtypes.PutEventsRequestEntry
		var retryIDs, permanent []string
		for i, r := range out.Entries {
			code := aws.ToString(r.ErrorCode)
			switch {
			case code == "":
			case retryablePutError(code):
				retry = append(retry, entries[i])
				retryIDs = append(retryIDs, ids[i])
			default:
				permanent = append(permanent, fmt.Sprintf("event %s: %s: %s", ids[i], code, aws.ToString(r.ErrorMessage)))
			}
		}
		if len(permanent) > 0 {
			return fmt.Errorf("put events on %s: %s", s.bus, strings.Join(permanent, "; "))
		}
		if attempt >= s.attempts {
			return fmt.Errorf("put events on %s: %d entries still failing after %d attempts (last: %s)", s.bus, len(retry), attempt, aws.ToString(out.Entries[0].ErrorCode))
		}
		if err := clock.Sleep(ctx, s.backoff(attempt)); err != nil {
			return fmt.Errorf("put events on %s: %w", s.bus, err)
		}
		entries, ids = retry, retryIDs
	}
}

// retryablePutError sorts PutEvents entry error codes as EventBridge
// documents them: throttling and internal failures pass, the rest (access,
// malformed detail, invalid argument) would fail again.
func retryablePutError(code string) bool {
	switch code {
	case "ThrottlingException", "InternalFailure", "InternalException", "ServiceUnavailable":
		return true
	}
	return false
}

// entrySize is an entry's size as EventBridge counts it against the 256 KB
// limit of a call.
func entrySize(e ebtypes.PutEventsRequestEntry) int {
	n := 14 // Time
	n += len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// Route is one handler's subscription: its queue and its rule's event
// pattern, read from the deployed rule.
type Route struct {
	Handler string
	Queue   string
	pattern *eventpattern.Pattern
}

// RuleAPI is the part of the EventBridge API that reads a rule.
type RuleAPI interface {
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
}

// LoadRoutes reads the deployed rules of handlers on st's bus. A pattern with
// an operator the matcher does not know is refused rather than guessed.
func LoadRoutes(ctx context.Context, client RuleAPI, st Stack, handlers []Handler) ([]Route, error) {
	routes := make([]Route, 0, len(handlers))
	for _, h := range handlers {
		out, err := client.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(h.Rule), EventBusName: aws.String(st.Bus)})
		if err != nil {
			return nil, fmt.Errorf("read rule of handler %s: %w", h.Name, err)
		}
		p, err := eventpattern.Compile([]byte(aws.ToString(out.EventPattern)))
		if err != nil {
			return nil, fmt.Errorf("rule of handler %s: %w", h.Name, err)
		}
		routes = append(routes, Route{Handler: h.Name, Queue: h.Queue, pattern: p})
	}
	return routes, nil
}

// NewRoute is a route whose rule has the given event pattern, for tests and
// for callers that read patterns elsewhere.
func NewRoute(handler, queue string, pattern []byte) (Route, error) {
	p, err := eventpattern.Compile(pattern)
	if err != nil {
		return Route{}, fmt.Errorf("route %s: %w", handler, err)
	}
	return Route{Handler: handler, Queue: queue, pattern: p}, nil
}

// Matches reports whether the route's rule would deliver body, an event as
// EventBridge sees it.
func (r Route) Matches(body []byte) (bool, error) {
	ok, err := r.pattern.Match(body)
	if err != nil {
		return false, fmt.Errorf("match rule of handler %s: %w", r.Handler, err)
	}
	return ok, nil
}

// Routed lists the handlers of routes whose rules would deliver ev, put on
// the bus of account and region.
func Routed(routes []Route, ev events.ScanEvent, account, region string) ([]string, error) {
	body, err := ev.RuleMessage(newEnvelopeID(), account, region)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range routes {
		ok, err := r.Matches(body)
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, r.Handler)
		}
	}
	return names, nil
}

// SendMessageAPI is the part of the SQS API the queue sink uses.
type SendMessageAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// QueueSink sends each event straight to the queues of chosen handlers, the
// message body exactly as their rules would deliver it, so that only those
// handlers see it (on the bus every handler's rule would). An event a
// handler's rule does not subscribe to is not sent to it.
type QueueSink struct {
	client          SendMessageAPI
	routes          []Route
	account, region string
}

var _ Sink = (*QueueSink)(nil)

// NewQueueSink returns a sink onto the queues of routes; account and region
// are the bus's, for the envelope.
func NewQueueSink(client SendMessageAPI, routes []Route, account, region string) (*QueueSink, error) {
	if client == nil || len(routes) == 0 {
		return nil, errors.New("queue sink: nil client or no routes")
	}
	return &QueueSink{client: client, routes: routes, account: account, region: region}, nil
}

// Send implements Sink. The SDK's retryer retries throttled calls.
func (s *QueueSink) Send(ctx context.Context, evs []events.ScanEvent) (int, error) {
	sent := 0
	for _, ev := range evs {
		body, err := ev.RuleMessage(newEnvelopeID(), s.account, s.region)
		if err != nil {
			return sent, err
		}
		delivered := false
		for _, r := range s.routes {
			ok, err := r.Matches(body)
			if err != nil {
				return sent, err
			}
			if !ok {
				continue
			}
			if _, err := s.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.Queue), MessageBody: aws.String(string(body))}); err != nil {
				return sent, fmt.Errorf("send event %s to the %s queue: %w", ev.EventID, r.Handler, err)
			}
			delivered = true
		}
		if delivered {
			sent++
		}
	}
	return sent, nil
}

// PlanSink sends nothing: it reports each event with the handlers that would
// receive it, for a dry run.
type PlanSink struct {
	Routes []Route
	// Account and Region are the bus's, as a rule would see them.
	Account, Region string
	Report          func(ev events.ScanEvent, handlers []string)
}

var _ Sink = PlanSink{}

// Send implements Sink.
func (s PlanSink) Send(_ context.Context, evs []events.ScanEvent) (int, error) {
	n := 0
	for _, ev := range evs {
		hs, err := Routed(s.Routes, ev, s.Account, s.Region)
		if err != nil {
			return n, err
		}
		if s.Report != nil {
			s.Report(ev, hs)
		}
		if len(hs) > 0 {
			n++
		}
	}
	return n, nil
}

// newEnvelopeID is a random UUID-shaped event ID, as EventBridge gives each
// event it delivers.
func newEnvelopeID() string {
	h := domain.NewID()
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
