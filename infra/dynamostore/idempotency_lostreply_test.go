package dynamostore_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/mototest"
)

// loseFirstReply loses moto's reply to the first request whose target
// ends in op: the write lands, the client sees a transport error and
// retries.
func loseFirstReply(t *testing.T, op string) (string, *atomic.Int32) {
	t.Helper()
	var lost atomic.Int32
	endpoint := mototest.Interpose(t, func(w http.ResponseWriter, r *http.Request, forward func(http.ResponseWriter)) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), op) && lost.CompareAndSwap(0, 1) {
			mototest.LoseReply(w, forward)
			return
		}
		forward(w)
	})
	return endpoint, &lost
}

// lostReplyStore is an idempotency store on a fresh table whose first
// PutItem reply is lost; attempts, when set, caps the SDK's attempts.
func lostReplyStore(t *testing.T, attempts int) (*dynamostore.IdempotencyStore, *atomic.Int32) {
	t.Helper()
	name := mototest.UniqueName("idempotency")
	if err := mototest.CreateIdempotencyTable(context.Background(), dynamoClient(t), name); err != nil {
		t.Fatal(err)
	}
	endpoint, lost := loseFirstReply(t, ".PutItem")
	cfg := mototest.Config(t)
	cfg.BaseEndpoint = aws.String(endpoint)
	if attempts > 0 {
		cfg.RetryMaxAttempts = attempts
	}
	s, err := dynamostore.NewIdempotencyStore(dynamodb.NewFromConfig(cfg), name)
	if err != nil {
		t.Fatal(err)
	}
	return s, lost
}

// TestStartSurvivesALostReply: the SDK retries a PutItem whose reply was
// lost; the retry's condition fails against the marker the first try wrote,
// which is this Start's own, so Start holds the key instead of reporting
// it in progress elsewhere (and Finish then completes it).
func TestStartSurvivesALostReply(t *testing.T) {
	ctx := context.Background()
	s, lost := lostReplyStore(t, 0)
	if err := s.Start(ctx, "alert#evt-1", time.Minute); err != nil {
		t.Fatalf("Start after a lost reply = %v, want the key held", err)
	}
	if lost.Load() != 1 {
		t.Fatal("no reply was lost: the test proves nothing")
	}
	if err := s.Finish(ctx, "alert#evt-1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, "alert#evt-1", time.Minute); !errors.Is(err, domain.ErrAlreadyDone) {
		t.Errorf("Start after Finish = %v, want already done", err)
	}
}

// TestAbandonDropsAMarkerWhoseStartTimedOut: a Start that timed out after
// its write landed leaves a marker that Abandon still drops, so the retry
// is not held off by (or mistaken about) a marker nobody holds.
func TestAbandonDropsAMarkerWhoseStartTimedOut(t *testing.T) {
	ctx := context.Background()
	s, lost := lostReplyStore(t, 1) // the lost reply is the end of this Start
	if err := s.Start(ctx, "alert#evt-2#publish", time.Hour); err == nil || lost.Load() != 1 {
		t.Fatalf("Start = %v after %d lost replies; want an error from the one lost reply", err, lost.Load())
	}
	if err := s.Abandon(ctx, "alert#evt-2#publish"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, "alert#evt-2#publish", time.Hour); err != nil {
		t.Errorf("Start after Abandon = %v; want the marker gone", err)
	}
}
