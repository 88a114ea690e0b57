package replay_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/replay"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
)

// env is a scanner stack deployed into moto from the real template.
type env struct {
	cfg    aws.Config
	d      *local.Deployment
	st     replay.Stack
	ddb    *dynamodb.Client
	sqs    *sqs.Client
	scans  *dynamostore.ScanStore
	queues map[string]string // handler name → queue URL
}

func deploy(t *testing.T) *env {
	t.Helper()
	cfg := mototest.Config(t)
	ctx := context.Background()
	d, err := local.Deploy(ctx, cfg, local.DeployOptions{StackName: mototest.UniqueName("replay"), Params: map[string]string{"QualysAccessToken": "t0ken"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Provide(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := replay.LoadStack(ctx, cloudformation.NewFromConfig(cfg), d.Name, d.Template)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: cfg, d: d, st: st, ddb: dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), queues: map[string]string{}}
	if e.scans, err = dynamostore.NewScanStore(e.ddb, st.ScansTable); err != nil {
		t.Fatal(err)
	}
	for _, h := range st.Handlers {
		e.queues[h.Name] = h.Queue
	}
	return e
}

func imageRef(t testing.TB, d domain.Digest, repository, tag string) domain.ImageRef {
	t.Helper()
	ref, err := domain.NewImageRef(testAccount, testRegion, repository, string(d), tag)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// outcome is how a test record's scan ends.
type outcome int

const (
	completes outcome = iota
	failsForGood
	staysScanning
)

// record writes a record through the domain lifecycle: a push of each
// reference in turn (the first starts the scan), then the outcome at done.
func (e *env) record(t *testing.T, o outcome, done time.Time, refs ...domain.ImageRef) domain.ScanRecord {
	t.Helper()
	ctx := context.Background()
	d := refs[0].Digest
	start := done.Add(-2 * time.Minute)
	for i, ref := range refs {
		err := e.scans.Update(ctx, d, func(s *domain.Scan) error {
			_, err := s.Claim(domain.Claim{Ref: ref, Owner: "scan-1", Now: start.Add(time.Duration(i) * time.Second), LeaseUntil: start.Add(15 * time.Minute),
				TraceHeader: "Root=1-65f0c0de-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := e.scans.Update(ctx, d, func(s *domain.Scan) error {
		switch o {
		case completes:
			return s.Complete("scan-1", domain.ScanResult{
				Summary: domain.Summary{Vulnerabilities: domain.Counts{Critical: 1, High: 2}, Secrets: 1},
				Report:  domain.ReportLocation{Bucket: "results", Key: "reports/" + d.Hex() + ".json.gz"},
			}, done, 7*24*time.Hour)
		case failsForGood:
			_, err := s.Fail("scan-1", domain.Failure{Class: domain.FailureRegistryAuth, Reason: "pull denied"}, nil, 3, done, 7*24*time.Hour)
			return err
		}
		return domain.ErrUnchanged
	})
	if err != nil && o != staysScanning {
		t.Fatal(err)
	}
	s, err := e.scans.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Record()
	r.Version--
	return r
}

// drain receives every message waiting in queue.
func (e *env) drain(t *testing.T, queue string) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
	}
}

// received drains every handler queue and decodes the messages as the
// handlers do.
func (e *env) received(t *testing.T) map[string][]events.ScanEvent {
	t.Helper()
	got := map[string][]events.ScanEvent{}
	for name, q := range e.queues {
		for _, body := range e.drain(t, q) {
			ev, err := events.DecodeBusMessage([]byte(body))
			if err != nil {
				t.Fatalf("%s queue: %v\n%s", name, err, body)
			}
			got[name] = append(got[name], ev)
		}
	}
	return got
}
