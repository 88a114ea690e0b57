package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/conformance"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/queue"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/secretstore"
	"ecrscanner/infra/snsnotify"
)

// checkAll holds every captured request to the models and to the
// documented limits.
func checkAll(t *testing.T, rec *conformance.Recorder, wantOps ...string) {
	t.Helper()
	reqs := rec.Requests()
	conformance.CheckLimits(t, reqs)
	results := conformance.Check(t, reqs)
	got := map[string]bool{}
	largest := map[string]int{}
	for _, r := range results {
		got[r.Operation] = true
		largest[r.Operation] = max(largest[r.Operation], len(reqs[r.Index].Body))
	}
	t.Logf("%s: %d requests; largest body per operation (bytes): %v", reqs[0].Service, len(reqs), largest)
	for _, op := range wantOps {
		if !got[op] {
			t.Errorf("no %s request was captured (got %v)", op, got)
		}
	}
}

// SNS Publish: the longest subject snsnotify allows, ten attributes and a
// multi-byte body filling the message limit with them.
func TestSNSPublish(t *testing.T) {
	rec := conformance.NewRecorder(t, "sns")
	n, err := snsnotify.New(sns.NewFromConfig(rec.Config(t)), "arn:aws:sns:us-east-1:123456789012:"+strings.Repeat("t", 256))
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{}
	size := 0
	for i := range 10 {
		k, v := fmt.Sprintf("attr_%d.%s", i, strings.Repeat("n", 240)), strings.Repeat("v", 1000)
		attrs[k] = v
		size += len(k) + len("String") + len(v)
	}
	body := strings.Repeat("é", (snsnotify.MaxMessageBytes-size)/2)
	a := snsnotify.Alert{Subject: "[CRITICAL] " + strings.Repeat("s", snsnotify.MaxSubjectLen-11), Body: body, Attributes: attrs}
	if err := n.Publish(context.Background(), a); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	checkAll(t, rec, "Publish")

	t.Run("invalid UTF-8 is refused before sending", func(t *testing.T) {
		before := len(rec.Requests())
		err := n.Publish(context.Background(), snsnotify.Alert{Subject: "s", Body: invalidUTF8})
		if !errors.Is(err, domain.ErrInvalid) || len(rec.Requests()) != before {
			t.Errorf("Publish = %v with %d requests sent, want ErrInvalid and none", err, len(rec.Requests())-before)
		}
	})
}

// ECR: the tagger's ListTagsForResource and TagResource, ImageTags'
// DescribeImages and the inspector's BatchGetImage, for a 256-character
// repository and a 300-character tag.
func TestECRRequests(t *testing.T) {
	rec := conformance.NewRecorder(t, "ecr")
	client := ecr.NewFromConfig(rec.Config(t))
	ctx := context.Background()
	tagger, err := ecrstore.NewTagger(client)
	if err != nil {
		t.Fatal(err)
	}
	repo := ecrstore.RepositoryRef{Account: account, Region: region, Name: longRepository(0)}
	sum := ecrstore.ScanSummary{Digest: testkit.Digest, ScanID: domain.NewID(), ScannedAt: at, QScannerVersion: "4.8.0", Platform: "linux/arm64/v8",
		Summary: domain.Summary{Vulnerabilities: domain.Counts{Critical: 20000, High: 1}}}
	if err := tagger.TagRepository(ctx, repo, sum); err != nil {
		t.Fatalf("TagRepository: %v", err)
	}
	_, _, _ = tagger.LastScan(ctx, repo)
	tags, err := ecrstore.NewImageTags(client)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = tags.TagsOf(ctx, longRef(t, 0)) // the minimal answer may not satisfy it; the request is what counts
	inspector, err := ecrstore.NewInspector(client)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = inspector.Inspect(ctx, longRef(t, 1))
	checkAll(t, rec, "ListTagsForResource", "TagResource", "DescribeImages", "BatchGetImage")
}

// DynamoDB: the scan record at its largest (MaxReferences long references,
// a failure text with invalid UTF-8) and the idempotency markers of a
// replayed event.
func TestDynamoDBRequests(t *testing.T) {
	rec := conformance.NewRecorder(t, "dynamodb")
	client := dynamodb.NewFromConfig(rec.Config(t))
	ctx := context.Background()
	store, err := dynamostore.NewScanStore(client, "ecr-scanner-scans")
	if err != nil {
		t.Fatal(err)
	}
	for _, failed := range []bool{false, true} {
		scan := maximalScan(t, failed)
		if err := store.Update(ctx, testkit.Digest, func(s *domain.Scan) error { *s = *scan; return nil }); err != nil {
			t.Fatalf("Update (failed %v): %v", failed, err)
		}
	}
	markers, err := dynamostore.NewIdempotencyStore(client, "ecr-scanner-idempotency")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.NewScanEvent(maximalScan(t, false).Record())
	if err != nil {
		t.Fatal(err)
	}
	ev.ReplayID = "archive:" + strings.Repeat("r", 64)
	key := "securityhub#" + ev.EventID + "#replay#" + ev.ReplayID
	_ = markers.Start(ctx, key, 5*time.Minute)
	_ = markers.Finish(ctx, key, 30*24*time.Hour)
	_ = markers.Abandon(ctx, key)
	checkAll(t, rec, "GetItem", "PutItem")
}

// EventBridge PutEvents: the entry the Pipe puts on the bus for the largest
// scan record, sent as the replay tooling sends it.
func TestPutEventsEntry(t *testing.T) {
	rec := conformance.NewRecorder(t, "events")
	client := eventbridge.NewFromConfig(rec.Config(t))
	for _, failed := range []bool{false, true} {
		ev, err := events.NewScanEvent(maximalScan(t, failed).Record())
		if err != nil {
			t.Fatal(err)
		}
		entry, err := ev.Entry()
		if err != nil {
			t.Fatalf("Entry: %v", err)
		}
		_, err = client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			EventBusName: aws.String("arn:aws:events:us-east-1:123456789012:event-bus/ecr-scanner-image-scans"),
			Source:       aws.String(entry.Source), DetailType: aws.String(entry.DetailType), Detail: aws.String(string(entry.Detail)),
			Resources: entry.Resources, Time: aws.Time(entry.Time),
		}}})
		if err != nil {
			t.Fatalf("PutEvents: %v", err)
		}
	}
	checkAll(t, rec, "PutEvents")
}

// S3: a 20,000-finding report and an archive object under the longest
// repository name.
func TestS3Keys(t *testing.T) {
	rec := conformance.NewRecorder(t, "s3")
	cfg := rec.Config(t)
	client := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
	reports, err := s3store.NewReports(client, "ecr-scanner-results-123456789012")
	if err != nil {
		t.Fatal(err)
	}
	loc, err := reports.PutReport(context.Background(), domain.NewID(), testkit.LargeReport(20000))
	if err != nil {
		t.Fatalf("PutReport: %v", err)
	}
	_, _ = reports.GetReport(context.Background(), loc) // the empty answer is no report; the request is what counts
	archive, err := s3store.NewArchive(client, "ecr-scanner-results-123456789012")
	if err != nil {
		t.Fatal(err)
	}
	if err := archive.Put(context.Background(), s3store.ArchiveKey(longRepository(0), testkit.Digest, at), []byte(`{"scan":"x"}`)); err != nil {
		t.Fatalf("archive Put: %v", err)
	}
	checkAll(t, rec, "PutObject", "GetObject")
}

// SQS: a message parked on a dead-letter queue with the reason it failed,
// the reason carrying what a scanner's output can (terminal escapes, a NUL,
// invalid UTF-8), and the visibility change that schedules a retry.
func TestSQSRequests(t *testing.T) {
	rec := conformance.NewRecorder(t, "sqs")
	client := sqs.NewFromConfig(rec.Config(t))
	dlq, err := queue.NewDeadLetters(client, "https://sqs.us-east-1.amazonaws.com/123456789012/ecr-scanner-archive-dlq")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.NewScanEvent(maximalScan(t, true).Record())
	if err != nil {
		t.Fatal(err)
	}
	entry, err := ev.Entry()
	if err != nil {
		t.Fatal(err)
	}
	reason := "qscanner: \x1b[31mfatal\x1b[0m \x00 " + strings.Repeat(invalidUTF8, 300)
	if err := dlq.Park(context.Background(), "0f9a3e1c-5b1e-4a4e-9a51-1c2f0b7d9e11", string(entry.Detail), reason); err != nil {
		t.Fatalf("Park: %v", err)
	}
	vis, err := queue.NewVisibility(client)
	if err != nil {
		t.Fatal(err)
	}
	if err := vis.Hide(context.Background(), "arn:aws:sqs:us-east-1:123456789012:ecr-scanner-archive", strings.Repeat("r", 1024), 24*time.Hour); err != nil {
		t.Fatalf("Hide: %v", err)
	}
	checkAll(t, rec, "SendMessage", "ChangeMessageVisibility")
}

// Secrets Manager: the scan function's read of the Qualys token by ARN.
func TestSecretsManagerRequest(t *testing.T) {
	rec := conformance.NewRecorder(t, "secretsmanager")
	tokens, err := secretstore.NewSecretsManager(secretsmanager.NewFromConfig(rec.Config(t)), "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-scanner/qualys-token-AbCdEf", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = tokens.Token(context.Background()) // the empty answer holds no token; the request is what counts
	checkAll(t, rec, "GetSecretValue")
}
