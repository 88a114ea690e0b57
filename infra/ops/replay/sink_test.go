package replay_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/ops/testkit"
)

// fakeBus records PutEvents calls and fails entries as told: failures[i]
// holds the error codes of the i-th call's entries by position.
type fakeBus struct {
	calls    [][]ebtypes.PutEventsRequestEntry
	failures []map[int]string
}

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	call := len(f.calls)
	f.calls = append(f.calls, in.Entries)
	out := &eventbridge.PutEventsOutput{}
	for i := range in.Entries {
		var r ebtypes.PutEventsResultEntry
		if call < len(f.failures) {
			if code, ok := f.failures[call][i]; ok {
				r.ErrorCode, r.ErrorMessage = aws.String(code), aws.String("fake")
				out.FailedEntryCount++
			}
		}
		if r.ErrorCode == nil {
			r.EventId = aws.String("id")
		}
		out.Entries = append(out.Entries, r)
	}
	return out, nil
}

// replayEvents builds n valid replay events.
func replayEvents(t *testing.T, n int, detailPad int) []events.ScanEvent {
	t.Helper()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var out []events.ScanEvent
	for range n {
		d := testkit.RandomDigest(t)
		s := domain.NewScan(d)
		ref := imageRef(t, d, "team/app", "v1")
		if _, err := s.Claim(domain.Claim{Ref: ref, Owner: "o", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		sum := domain.Summary{}
		for range detailPad {
			sum.Top = append(sum.Top, domain.Vulnerability{QID: "1", Title: strings.Repeat("x", 1000), Severity: domain.SeverityHigh})
		}
		if err := s.Complete("o", domain.ScanResult{Summary: sum, Report: domain.ReportLocation{Bucket: "b", Key: "k"}}, now, time.Hour); err != nil {
			t.Fatal(err)
		}
		ev, err := events.ReplayEvent(s.Record(), "r")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func noBackoff(int) time.Duration { return 0 }

func TestBusSinkBatchesAndRetries(t *testing.T) {
	tests := []struct {
		name      string
		events    int
		pad       int
		failures  []map[int]string
		wantCalls []int // entries per call
		wantErr   string
	}{
		{name: "ten entries per call", events: 23, wantCalls: []int{10, 10, 3}},
		{name: "256 KB per call", events: 6, pad: 60, wantCalls: []int{4, 2}},
		{
			name:      "throttled entries are sent again",
			events:    5,
			failures:  []map[int]string{{1: "ThrottlingException", 3: "InternalFailure"}, {0: "ThrottlingException"}},
			wantCalls: []int{5, 2, 1},
		},
		{
			name:      "a permanent failure stops",
			events:    3,
			failures:  []map[int]string{{2: "MalformedDetail"}},
			wantCalls: []int{3},
			wantErr:   "MalformedDetail",
		},
		{
			name:      "retries are bounded",
			events:    1,
			failures:  []map[int]string{{0: "ThrottlingException"}, {0: "ThrottlingException"}, {0: "ThrottlingException"}, {0: "ThrottlingException"}, {0: "ThrottlingException"}, {0: "ThrottlingException"}, {0: "ThrottlingException"}, {0: "ThrottlingException"}},
			wantCalls: []int{1, 1, 1, 1, 1, 1, 1, 1},
			wantErr:   "after 8 attempts",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := &fakeBus{failures: tc.failures}
			sink, err := replay.NewBusSink(bus, "image-scans", replay.WithBackoff(noBackoff))
			if err != nil {
				t.Fatal(err)
			}
			evs := replayEvents(t, tc.events, tc.pad)
			n, err := sink.Send(context.Background(), evs)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			case tc.wantErr == "" && n != tc.events:
				t.Errorf("sent %d, want %d", n, tc.events)
			}
			var got []int
			for _, c := range bus.calls {
				got = append(got, len(c))
				size := 0
				for _, e := range c {
					size += 14 + len(*e.Source) + len(*e.DetailType) + len(*e.Detail)
					if *e.EventBusName != "image-scans" || *e.Source != events.Source || *e.DetailType != events.DetailType {
						t.Errorf("entry %+v", e)
					}
				}
				if size > 256*1024 {
					t.Errorf("a call of %d bytes", size)
				}
			}
			if !equalInts(got, tc.wantCalls) {
				t.Errorf("calls of %v entries, want %v", got, tc.wantCalls)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type fakeQueues struct{ sent map[string][]string }

func (f *fakeQueues) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if f.sent == nil {
		f.sent = map[string][]string{}
	}
	f.sent[*in.QueueUrl] = append(f.sent[*in.QueueUrl], *in.MessageBody)
	return &sqs.SendMessageOutput{}, nil
}

// A queue sink honours each chosen handler's rule: a failed scan goes to
// alert, not to archive, whose rule does not take it.
func TestQueueSinkFollowsTheRules(t *testing.T) {
	alert, err := replay.NewRoute("alert", "q-alert", []byte(`{"source":["ecr-image-scanner"],"detail":{"eventType":["ScanCompleted","ImageReferenced","ScanFailed"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	archive, err := replay.NewRoute("archive", "q-archive", []byte(`{"source":["ecr-image-scanner"],"detail":{"eventType":["ScanCompleted","ImageReferenced"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	q := &fakeQueues{}
	sink, err := replay.NewQueueSink(q, []replay.Route{alert, archive}, testAccount, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	completed := replayEvents(t, 1, 0)[0]
	failed := completed
	failed.EventType, failed.Failure = domain.EventScanFailed, &domain.Failure{Class: domain.FailureRegistryAuth, Reason: "x"}
	n, err := sink.Send(context.Background(), []events.ScanEvent{completed, failed})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(q.sent["q-alert"]) != 2 || len(q.sent["q-archive"]) != 1 {
		t.Fatalf("sent %d; alert got %d, archive %d; want 2, 2, 1", n, len(q.sent["q-alert"]), len(q.sent["q-archive"]))
	}
	ev, err := events.DecodeBusMessage([]byte(q.sent["q-archive"][0]))
	if err != nil || ev.EventType != domain.EventScanCompleted || ev.ReplayID != "r" {
		t.Errorf("archive got %+v, %v", ev, err)
	}
	only, err := replay.NewQueueSink(q, []replay.Route{archive}, testAccount, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := only.Send(context.Background(), []events.ScanEvent{failed}); err != nil || n != 0 {
		t.Errorf("a failed scan to archive only: sent %d, %v; want 0 (not subscribed)", n, err)
	}
	if _, err := replay.NewRoute("x", "q", []byte(`{"detail":{"n":[{"numeric":[">",1]}]}}`)); err == nil {
		t.Error("a pattern with an unsupported operator was accepted")
	}
}

var errBoom = errors.New("boom")
