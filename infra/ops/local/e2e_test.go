package local_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/qscanner/qscannertest"
)

// busEvent is an event the Pipe put on the image-scans bus.
type busEvent struct {
	detailType string
	detail     []byte
}

// e2e is the whole stack on moto through the local runner: the real function
// binaries, the template's Pipe filter, rules and queues.
type e2e struct {
	t        *testing.T
	ctx      context.Context
	cfg      aws.Config
	p        *local.Pipeline
	obs      *local.Observer
	reg      *local.Registry
	ecr      *ecr.Client
	runs     string // the QScanner stand-in's invocation log
	mu       sync.Mutex
	captured []busEvent
}

func startE2E(t *testing.T, failing func(reg *local.Registry, client *ecr.Client) domain.ImageRef, adjust ...func(*local.PipelineOptions)) (*e2e, domain.ImageRef) {
	t.Helper()
	ctx := context.Background()
	cfg := harness(t)
	reg, err := local.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	e := &e2e{t: t, ctx: ctx, cfg: cfg, reg: reg, ecr: ecr.NewFromConfig(cfg), runs: filepath.Join(t.TempDir(), "qscanner-runs.jsonl")}
	bad := failing(reg, e.ecr)
	opts := local.PipelineOptions{
		StackName: mototest.UniqueName("e2e"),
		Params:    map[string]string{"QualysAccessToken": "e2e-token"},
		BuildDir:  t.TempDir(),
		Env:       local.FunctionEnv(mototest.Endpoint(t)),
		FunctionEnv: map[string]map[string]string{
			"scan": {
				"QSCANNER_BIN":             qscannertest.BuildStandIn(t),
				"QSCANNER_STANDIN_FIXTURE": qscannertest.FixtureDir("basic"),
				"QSCANNER_STANDIN_MODE":    "default=ok," + bad.Digest.String() + "=notfound",
				"QSCANNER_STANDIN_RECORD":  e.runs,
			},
			"tag": {"REGISTRY_ENDPOINT": reg.Endpoint()},
		},
		RetryDelay: time.Second,
		IAM:        mototest.Server(t),
		OnResult: func(fn string, received, failed int, took time.Duration, err error) {
			if failed > 0 || err != nil {
				t.Logf("%s: %d of %d messages failed in %v: %v", fn, failed, received, took, err)
			}
		},
		Output: func(fn, line string) {
			if !strings.Contains(line, `"level":"INFO"`) && !strings.Contains(line, `"level":"DEBUG"`) {
				t.Logf("%s | %s", fn, line)
			}
		},
		OnEvent: func(dt string, detail []byte) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.captured = append(e.captured, busEvent{dt, detail})
		},
	}
	for _, f := range adjust {
		f(&opts)
	}
	p, err := local.StartPipeline(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	e.p = p
	e.obs = p.Observer(cfg)
	return e, bad
}

func (e *e2e) push(ref domain.ImageRef) {
	e.t.Helper()
	e.putEvents(ebtypes.PutEventsRequestEntry{
		Source: aws.String("aws.ecr"), DetailType: aws.String("ECR Image Action"), Resources: []string{local.RepositoryARN(ref)},
		Detail: aws.String(fmt.Sprintf(`{"result":"SUCCESS","repository-name":%q,"image-digest":%q,"action-type":"PUSH","image-tag":%q}`, ref.Repository, ref.Digest, ref.Tag)),
	})
}

func (e *e2e) putEvents(entries ...ebtypes.PutEventsRequestEntry) {
	e.t.Helper()
	out, err := eventbridge.NewFromConfig(e.cfg).PutEvents(e.ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil || out.FailedEntryCount > 0 {
		e.t.Fatalf("put events: %v (failed %d)", err, out.FailedEntryCount)
	}
}

// eventually polls cond until it holds or the time is up.
func (e *e2e) eventually(what string, within time.Duration, cond func() bool) time.Duration {
	e.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("%s: not within %v", what, within)
	return 0
}

func (e *e2e) qscannerRuns() int {
	f, err := os.Open(e.runs)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

func (e *e2e) archiveKeys(ref domain.ImageRef) []string {
	_, keys, err := e.obs.ArchiveObjects(e.ctx, ref.Repository, ref.Digest)
	if err != nil {
		e.t.Fatal(err)
	}
	return keys
}

// alerts collects the alerts published so far, by repository.
type alertLog struct {
	mu     sync.Mutex
	byRepo map[string][]local.Alert
}

func (e *e2e) drainAlerts(log *alertLog) {
	e.t.Helper()
	alerts, err := e.obs.Alerts(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, a := range alerts {
		log.byRepo[a.Attributes["repository"]] = append(log.byRepo[a.Attributes["repository"]], a)
	}
}

func (l *alertLog) count(repo string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byRepo[repo])
}

func (l *alertLog) first(repo string) local.Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byRepo[repo][0]
}

func TestPipelineEndToEnd(t *testing.T) {
	e, bad := startE2E(t, func(reg *local.Registry, client *ecr.Client) domain.ImageRef {
		ref, err := reg.PushSample(context.Background(), client, local.Account, local.Region, "e2e/broken", "v1")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	})
	alerts := &alertLog{byRepo: map[string][]local.Alert{}}

	good, err := e.reg.PushSample(e.ctx, e.ecr, local.Account, local.Region, "e2e/app", "v1")
	if err != nil {
		t.Fatal(err)
	}

	// 1. A push reaches every place people look.
	start := time.Now()
	e.push(good)
	var rec domain.ScanRecord
	e.eventually("scan record completed", 60*time.Second, func() bool {
		r, ok, _ := e.obs.Record(e.ctx, good.Digest)
		rec = r
		return ok && r.Status == domain.StatusCompleted
	})
	e.eventually("archive object", 30*time.Second, func() bool { return len(e.archiveKeys(good)) == 1 })
	e.eventually("repository tags", 30*time.Second, func() bool {
		tags, _ := e.obs.RepositoryTags(e.ctx, good)
		return tags["qualys:last-digest"] == good.Digest.String() && tags["qualys:scanned"] == "true"
	})
	e.eventually("referrer on the image", 30*time.Second, func() bool {
		refs, err := e.reg.Referrers(good)
		return err == nil && len(refs) == 1
	})
	e.eventually("alert", 30*time.Second, func() bool { e.drainAlerts(alerts); return alerts.count(good.Repository) == 1 })
	t.Logf("push to all effects: %v", time.Since(start).Round(time.Millisecond))

	checkArchive(t, e, good)
	a := alerts.first(good.Repository)
	if a.Subject != "Security Alert: e2e/app:v1" || a.Attributes["severity"] != "CRITICAL" || a.Attributes["kind"] == "" {
		t.Errorf("alert subject %q attributes %v", a.Subject, a.Attributes)
	}
	tags, _ := e.obs.RepositoryTags(e.ctx, good)
	if tags["qualys:critical"] != fmt.Sprint(rec.Summary.Vulnerabilities.Critical) || tags["qualys:vulnerabilities"] != fmt.Sprint(rec.Summary.Vulnerabilities.Total()) {
		t.Errorf("tags %v do not carry the summary %+v", tags, rec.Summary.Vulnerabilities)
	}

	// 2. The same digest in another repository: no rescan, but that
	// repository gets its archive entry, tags and one alert.
	mirror, err := e.reg.Retag(e.ctx, e.ecr, good, "e2e/mirror", "v2")
	if err != nil {
		t.Fatal(err)
	}
	e.push(mirror)
	e.eventually("mirror archive object", 30*time.Second, func() bool { return len(e.archiveKeys(mirror)) == 1 })
	e.eventually("mirror tags", 30*time.Second, func() bool {
		tags, _ := e.obs.RepositoryTags(e.ctx, mirror)
		return tags["qualys:last-digest"] == mirror.Digest.String()
	})
	e.eventually("mirror alert", 30*time.Second, func() bool { e.drainAlerts(alerts); return alerts.count(mirror.Repository) == 1 })
	if r, _, _ := e.obs.Record(e.ctx, good.Digest); r.ScanID != rec.ScanID || r.Event.Type != domain.EventImageReferenced {
		t.Errorf("record after the mirror push: scan %s event %s; want the same scan and ImageReferenced", r.ScanID, r.Event.Type)
	}

	// 3. A failed scan: an alert of kind scan_failed, no archive entry.
	e.push(bad)
	e.eventually("scan_failed alert", 60*time.Second, func() bool { e.drainAlerts(alerts); return alerts.count(bad.Repository) == 1 })
	if k := alerts.first(bad.Repository).Attributes["kind"]; k != "scan_failed" {
		t.Errorf("failed scan alert kind %q, want scan_failed", k)
	}
	if keys := e.archiveKeys(bad); len(keys) != 0 {
		t.Errorf("failed scan archived: %v", keys)
	}
	if n := e.qscannerRuns(); n != 2 {
		t.Errorf("QScanner ran %d times for two images, want 2", n)
	}

	// 4. Every bus event delivered three more times, in any order: still one
	// archive object per (repository, scan), one alert per (scan,
	// repository), and the tags unchanged.
	e.mu.Lock()
	captured := append([]busEvent(nil), e.captured...)
	e.mu.Unlock()
	if len(captured) != 3 {
		t.Fatalf("captured %d bus events, want 3 (completed, referenced, failed)", len(captured))
	}
	bus, err := e.p.Ref("ImageScansBus")
	if err != nil {
		t.Fatal(err)
	}
	var entries []ebtypes.PutEventsRequestEntry
	for i := 0; i < 3; i++ {
		for _, c := range captured {
			entries = append(entries, ebtypes.PutEventsRequestEntry{EventBusName: aws.String(bus), Source: aws.String(events.Source), DetailType: aws.String(c.detailType), Detail: aws.String(string(c.detail))})
		}
	}
	rand.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	e.putEvents(entries[:5]...)
	e.putEvents(entries[5:]...)
	tagsBefore, _ := e.obs.RepositoryTags(e.ctx, good)
	e.eventually("redeliveries drained", 30*time.Second, func() bool { return e.queuesEmpty("ArchiveQueue", "TagQueue", "AlertQueue") })
	time.Sleep(time.Second) // let any (wrong) extra alert reach the observer
	e.drainAlerts(alerts)
	for _, ref := range []domain.ImageRef{good, mirror} {
		if keys := e.archiveKeys(ref); len(keys) != 1 {
			t.Errorf("%s: %d archive objects after redelivery, want 1", ref.Repository, len(keys))
		}
	}
	for _, repo := range []string{good.Repository, mirror.Repository, bad.Repository} {
		if n := alerts.count(repo); n != 1 {
			t.Errorf("%s: %d alerts after redelivery, want 1", repo, n)
		}
	}
	if tagsAfter, _ := e.obs.RepositoryTags(e.ctx, good); fmt.Sprint(tagsAfter) != fmt.Sprint(tagsBefore) {
		t.Errorf("tags changed on redelivery: %v -> %v", tagsBefore, tagsAfter)
	}

	// 5. A poison message lands in its handler's DLQ only; the handler keeps
	// processing the others.
	archiveQueue, _ := e.p.Ref("ArchiveQueue")
	sqsClient := sqs.NewFromConfig(e.cfg)
	if _, err := sqsClient.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(archiveQueue), MessageBody: aws.String(`{"not":"a bus event"`)}); err != nil {
		t.Fatal(err)
	}
	e.eventually("poison message in the archive DLQ", 30*time.Second, func() bool {
		n, _ := e.obs.QueueDepth(e.ctx, "ArchiveDLQ")
		return n == 1
	})
	for _, dlq := range []string{"TagDLQ", "AlertDLQ", "ScanDLQ"} {
		if n, _ := e.obs.QueueDepth(e.ctx, dlq); n != 0 {
			t.Errorf("%s holds %d messages, want 0", dlq, n)
			url, _ := e.p.Ref(dlq)
			out, _ := sqs.NewFromConfig(e.cfg).ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"}})
			for _, m := range out.Messages {
				t.Logf("%s: %v %.200s", dlq, m.Attributes, aws.ToString(m.Body))
			}
		}
	}
	dlqURL, _ := e.p.Ref("ArchiveDLQ")
	out, err := sqsClient.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MessageAttributeNames: []string{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive from archive DLQ: %v (%d messages)", err, len(out.Messages))
	}
	if reason := out.Messages[0].MessageAttributes["failure_reason"]; reason.StringValue == nil || !strings.Contains(*reason.StringValue, "invalid") {
		t.Errorf("dead-lettered without a reason: %v", out.Messages[0].MessageAttributes)
	}
}

// queuesEmpty reports whether the template queues have nothing visible or in
// flight.
func (e *e2e) queuesEmpty(ids ...string) bool {
	client := sqs.NewFromConfig(e.cfg)
	for _, id := range ids {
		url, err := e.p.Ref(id)
		if err != nil {
			e.t.Fatal(err)
		}
		out, err := client.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		}})
		if err != nil {
			e.t.Fatal(err)
		}
		if out.Attributes["ApproximateNumberOfMessages"] != "0" || out.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
			return false
		}
	}
	return true
}

func checkArchive(t *testing.T, e *e2e, ref domain.ImageRef) {
	t.Helper()
	bucket, keys, err := e.obs.ArchiveObjects(e.ctx, ref.Repository, ref.Digest)
	if err != nil || len(keys) != 1 {
		t.Fatalf("archive objects: %v %v", keys, err)
	}
	client := s3.NewFromConfig(e.cfg, awsconfig.S3Options(e.cfg))
	obj, err := client.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[0])})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	if obj.ServerSideEncryption == "" || aws.ToString(obj.ContentType) != "application/json" {
		t.Errorf("archive object SSE %q content type %q", obj.ServerSideEncryption, aws.ToString(obj.ContentType))
	}
	var doc map[string]any
	if err := json.NewDecoder(obj.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"repository", "digest", "tags", "account", "region", "scannedAt", "summary", "findings"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("archive document lacks %q", k)
		}
	}
	if doc["digest"] != ref.Digest.String() || doc["repository"] != ref.Repository {
		t.Errorf("archive names %v %v", doc["repository"], doc["digest"])
	}
	b, _ := json.Marshal(doc)
	if strings.Contains(string(b), "AKIA") || strings.Contains(strings.ToLower(string(b)), `"match"`) {
		t.Error("archive holds a secret's matched text")
	}
}

// TestPipelineRejectsABadRecordAndPublishesItsNeighbour writes, in one
// BatchWriteItem (so one stream batch as the local Pipe reads it), a good
// change and a malformed item: the malformed one ends in
// RejectedRecordsQueue with its reason, the good one in the archive, and
// nothing in PipeDLQ.
func TestPipelineRejectsABadRecordAndPublishesItsNeighbour(t *testing.T) {
	e, _ := startE2E(t, func(reg *local.Registry, client *ecr.Client) domain.ImageRef {
		ref, err := reg.PushSample(context.Background(), client, local.Account, local.Region, "e2e/unused", "v1")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	})
	good, err := e.reg.PushSample(e.ctx, e.ecr, local.Account, local.Region, "e2e/app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	e.push(good)
	e.eventually("archive object", 60*time.Second, func() bool { return len(e.archiveKeys(good)) == 1 })

	table, err := e.p.Ref("ScansTable")
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(e.cfg)
	item, err := db.GetItem(e.ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"digest": &ddbtypes.AttributeValueMemberS{Value: good.Digest.String()}}})
	if err != nil || item.Item == nil {
		t.Fatalf("get the good record: %v", err)
	}
	// The good change: the same scan announced again later, which the
	// archive keeps as a second object (its key has the scan time).
	again := item.Item
	// A minute on, so that the key cannot fall in the first scan's second.
	again["completedAt"] = &ddbtypes.AttributeValueMemberS{Value: time.Now().UTC().Add(time.Minute).Format(time.RFC3339)}
	ev := again["event"].(*ddbtypes.AttributeValueMemberM).Value
	ev["id"] = &ddbtypes.AttributeValueMemberS{Value: "e2e-announced-again"}
	// The malformed item passes the Pipe's filter but is no scan record.
	const badDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000bad"
	bad := map[string]ddbtypes.AttributeValue{
		"digest":  &ddbtypes.AttributeValueMemberS{Value: badDigest},
		"scanId":  &ddbtypes.AttributeValueMemberN{Value: "7"},
		"event":   &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"type": &ddbtypes.AttributeValueMemberS{Value: "ScanCompleted"}}},
		"payload": &ddbtypes.AttributeValueMemberS{Value: strings.Repeat("x", 10_000)},
	}
	if _, err := db.BatchWriteItem(e.ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{table: {
		{PutRequest: &ddbtypes.PutRequest{Item: bad}}, {PutRequest: &ddbtypes.PutRequest{Item: again}},
	}}}); err != nil {
		t.Fatal(err)
	}

	e.eventually("rejection parked", 30*time.Second, func() bool { n, _ := e.obs.QueueDepth(e.ctx, "RejectedRecordsQueue"); return n == 1 })
	e.eventually("good neighbour archived", 30*time.Second, func() bool { return len(e.archiveKeys(good)) == 2 })
	if n, _ := e.obs.QueueDepth(e.ctx, "PipeDLQ"); n != 0 {
		t.Errorf("PipeDLQ holds %d messages; a bad record must not fail its batch", n)
	}
	url, _ := e.p.Ref("RejectedRecordsQueue")
	out, err := sqs.NewFromConfig(e.cfg).ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive the rejection: %v", err)
	}
	body := aws.ToString(out.Messages[0].Body)
	var msg struct {
		DetailType string                `json:"detail-type"`
		Source     string                `json:"source"`
		Detail     events.RecordRejected `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		t.Fatal(err)
	}
	r := msg.Detail
	if msg.DetailType != events.DetailType || msg.Source != events.Source || r.EventType != events.EventRecordRejected ||
		r.Record.Digest != badDigest || r.Record.SequenceNumber == "" || !strings.Contains(r.Reason, "invalid") {
		t.Errorf("rejection %s", body)
	}
	if strings.Contains(body, "xxxxxxxxxx") {
		t.Error("the rejection carries the item's content")
	}
}
