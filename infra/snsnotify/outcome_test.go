package snsnotify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"ecrscanner/infra/ops/mototest"
)

// faultyProxy forwards to moto; the first Publish has its reply dropped
// after moto published it ("lose"), is answered with SNS's throttling error
// without reaching moto ("throttle"), or is published and answered only
// after the caller gave up ("hang").
func faultyProxy(t *testing.T, fault string) (string, *atomic.Int32) {
	t.Helper()
	var publishes atomic.Int32
	endpoint := mototest.Interpose(t, func(w http.ResponseWriter, r *http.Request, forward func(http.ResponseWriter)) {
		body, _ := httputil.DumpRequest(r, true)
		if !strings.Contains(string(body), "Action=Publish") {
			forward(w)
			return
		}
		n := publishes.Add(1)
		switch {
		case n == 1 && fault == "lose":
			mototest.LoseReply(w, forward)
		case n == 1 && fault == "hang":
			forward(httptest.NewRecorder())
			time.Sleep(2 * time.Second)
		case n == 1 && fault == "throttle":
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>`))
		default:
			forward(w)
		}
	})
	return endpoint, &publishes
}

// TestAPublishWithoutAnAnswerIsNotSentAgain: a lost reply is reported as an
// unknown outcome after one request (the SDK would otherwise publish twice);
// a throttled Publish, which SNS answered, is retried and succeeds.
func TestAPublishWithoutAnAnswerIsNotSentAgain(t *testing.T) {
	ctx := context.Background()
	cfg := mototest.Config(t)
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(mototest.UniqueName("alerts"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault         string
		wantPublishes int32
		wantUnknown   bool
	}{
		{fault: "lose", wantPublishes: 1, wantUnknown: true},
		{fault: "throttle", wantPublishes: 2},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			endpoint, publishes := faultyProxy(t, tc.fault)
			c := cfg.Copy()
			c.BaseEndpoint = aws.String(endpoint)
			n, err := New(sns.NewFromConfig(c, RetrySentOnlyOnAnswer), aws.ToString(topic.TopicArn))
			if err != nil {
				t.Fatal(err)
			}
			err = n.Publish(ctx, Alert{Subject: "s", Body: "b"})
			if got := publishes.Load(); got != tc.wantPublishes {
				t.Errorf("%d Publish requests, want %d", got, tc.wantPublishes)
			}
			if errors.Is(err, ErrOutcomeUnknown) != tc.wantUnknown || (err != nil) != tc.wantUnknown {
				t.Errorf("Publish = %v; want outcome unknown: %v", err, tc.wantUnknown)
			}
		})
	}
}

// TestAPublishCutOffByItsDeadlineIsAnUnknownOutcome: a context that ends
// while the request is out may have let it publish; one that ended before
// sends nothing and says so plainly.
func TestAPublishCutOffByItsDeadlineIsAnUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	cfg := mototest.Config(t)
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(mototest.UniqueName("alerts"))})
	if err != nil {
		t.Fatal(err)
	}
	endpoint, publishes := faultyProxy(t, "hang")
	c := cfg.Copy()
	c.BaseEndpoint = aws.String(endpoint)
	n, err := New(sns.NewFromConfig(c, RetrySentOnlyOnAnswer), aws.ToString(topic.TopicArn))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := n.Publish(short, Alert{Subject: "s", Body: "b"}); !errors.Is(err, ErrOutcomeUnknown) || publishes.Load() != 1 {
		t.Errorf("Publish cut off mid-flight = %v after %d requests; want outcome unknown after 1", err, publishes.Load())
	}
	done, cancelNow := context.WithCancel(ctx)
	cancelNow()
	if err := n.Publish(done, Alert{Subject: "s", Body: "b"}); err == nil || errors.Is(err, ErrOutcomeUnknown) || publishes.Load() != 1 {
		t.Errorf("Publish with an ended context = %v after %d requests; want a plain error and no request", err, publishes.Load())
	}
}
