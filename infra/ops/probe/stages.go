package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/xray"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/securityhubstore"
)

// observations are what reached the temporary queue: the bus event of the
// probe's scan and the probe's alert.
type observations struct {
	busEvent     string // its detail-type and eventType, once seen
	alertSubject string
	alertKind    string
}

// drain reads the temporary queue and notes what arrived. A message is
// deleted once read; the queue is the probe's alone.
func (r *run) drain(ctx context.Context) {
	out, err := r.p.c.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.temp.queueURL), MaxNumberOfMessages: 10})
	if err != nil {
		return
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		r.note(aws.ToString(m.Body))
		del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(del) > 0 {
		_, _ = r.p.c.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(r.temp.queueURL), Entries: del})
	}
}

// note classifies one message: an SNS notification (the alert) or an
// EventBridge event (from the probe rule).
func (r *run) note(body string) {
	var msg struct {
		Type              string // "Notification" for SNS
		Subject           string
		MessageAttributes map[string]struct{ Value string }
		DetailType        string           `json:"detail-type"`
		Detail            events.ScanEvent `json:"detail"`
	}
	if json.Unmarshal([]byte(body), &msg) != nil {
		return
	}
	switch {
	// The alert due is the findings alert (the planted secret); a
	// scan_failed alert is the scan stage's failure, reported there.
	case msg.Type == "Notification" && msg.MessageAttributes["repository"].Value == r.ref.Repository && msg.MessageAttributes["kind"].Value != "scan_failed":
		r.seen.alertSubject, r.seen.alertKind = msg.Subject, msg.MessageAttributes["kind"].Value
	case msg.Detail.Digest == r.ref.Digest && msg.Detail.EventType == domain.EventScanCompleted:
		r.seen.busEvent = fmt.Sprintf("%s %s, scan %s", msg.DetailType, msg.Detail.EventType, msg.Detail.ScanID)
	}
}

func (r *run) checkBus(context.Context) (deployer.Result, string) {
	if r.seen.busEvent == "" {
		return "", ""
	}
	return deployer.Pass, r.seen.busEvent
}

func (r *run) checkAlert(context.Context) (deployer.Result, string) {
	if r.seen.alertSubject == "" {
		return "", ""
	}
	return deployer.Pass, fmt.Sprintf("%q (kind %s)", r.seen.alertSubject, r.seen.alertKind)
}

// archivePrefix is where the archive function writes the probe's objects.
func (r *run) archivePrefix() string {
	return path.Dir(s3store.ArchiveKey(r.ref.Repository, r.ref.Digest, time.Time{})) + "/"
}

func (r *run) archiveKeys(ctx context.Context) ([]string, error) {
	out, err := r.p.c.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.physical("ResultsBucket")), Prefix: aws.String(r.archivePrefix())})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys, nil
}

func (r *run) checkArchive(ctx context.Context) (deployer.Result, string) {
	keys, err := r.archiveKeys(ctx)
	if err != nil || len(keys) == 0 {
		return "", ""
	}
	return deployer.Pass, "s3://" + r.physical("ResultsBucket") + "/" + keys[0]
}

// checkTags: the tag function labelled the probe repository with this scan.
func (r *run) checkTags(ctx context.Context) (deployer.Result, string) {
	out, err := r.p.c.ECR.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(r.st.ARN("ecr", "repository/"+r.ref.Repository))})
	if err != nil {
		return "", ""
	}
	tags := map[string]string{}
	for _, t := range out.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if tags[ecrstore.LabelLastDigest] != r.ref.Digest.String() {
		return "", ""
	}
	return deployer.Pass, fmt.Sprintf("%s=%s %s=%s", ecrstore.LabelScanned, tags[ecrstore.LabelScanned], ecrstore.LabelVulnerabilities, tags[ecrstore.LabelVulnerabilities])
}

func (r *run) checkReferrer(ctx context.Context) (deployer.Result, string) {
	refs, err := r.p.reg.Referrers(ctx, r.ref)
	if err != nil || len(refs) == 0 {
		return "", ""
	}
	return deployer.Pass, fmt.Sprintf("%d referrer(s): %s", len(refs), refs[0])
}

// hub reads and archives findings under the account's default product, the
// one the Security Hub function imports under.
func (r *run) hub() (*securityhubstore.Hub, error) {
	return securityhubstore.New(r.p.c.SecurityHub, fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", r.st.Partition, r.st.Region, r.st.Account, r.st.Account))
}

// findingPrefix is the Id prefix of the probe image's findings (the
// contract of handlers/securityhub's imagePrefix).
func (r *run) findingPrefix() string {
	return "qualys-qscanner:" + r.ref.Account + ":" + r.ref.Region + ":" + r.ref.Repository + ":" + r.ref.Digest.Hex() + ":"
}

// checkSecurityHub: one active finding per vulnerability and secret the
// scan reported.
func (r *run) checkSecurityHub(ctx context.Context) (deployer.Result, string) {
	rec, ok := r.record(ctx)
	if !ok || rec.Summary == nil {
		return "", ""
	}
	hub, err := r.hub()
	if err != nil {
		return deployer.Fail, err.Error()
	}
	fs, err := hub.Findings(ctx, r.findingPrefix())
	if err != nil {
		return "", ""
	}
	active := 0
	for _, f := range fs {
		if f.RecordState == securityhubstore.RecordStateActive {
			active++
		}
	}
	want := rec.Summary.Vulnerabilities.Total() + rec.Summary.Secrets
	if active == 0 || active != want {
		return "", ""
	}
	return deployer.Pass, fmt.Sprintf("%d active findings (%d vulnerabilities, %d secrets)", active, rec.Summary.Vulnerabilities.Total(), rec.Summary.Secrets)
}

// checkTrace reads the scan's trace by the ID in the record's trace header.
// The design is one trace per scan, the downstream handlers joining it, so
// a PASS needs segments of more than one function in it. BatchGetTraces
// takes up to five IDs and finds nothing where Transaction Search is on:
// https://docs.aws.amazon.com/xray/latest/api/API_BatchGetTraces.html
func (r *run) checkTrace(ctx context.Context) (deployer.Result, string) {
	rec, ok := r.record(ctx)
	if !ok || rec.Status != domain.StatusCompleted {
		return "", ""
	}
	root := traceRoot(rec.TraceHeader)
	if root == "" {
		return deployer.Skip, "the scan record has no trace header (tracing is off)"
	}
	out, err := r.p.c.XRay.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{root}})
	if err != nil || len(out.Traces) == 0 {
		return "", ""
	}
	var names []string
	for _, s := range out.Traces[0].Segments {
		var doc struct{ Name string }
		if json.Unmarshal([]byte(aws.ToString(s.Document)), &doc) == nil && !slices.Contains(names, doc.Name) {
			names = append(names, doc.Name)
		}
	}
	if len(names) < 2 {
		return "", ""
	}
	return deployer.Pass, fmt.Sprintf("%s: %d segments from %s", root, len(out.Traces[0].Segments), strings.Join(names, ", "))
}

// traceRoot is the Root field of an X-Ray trace header.
func traceRoot(header string) string {
	for _, part := range strings.Split(header, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			return v
		}
	}
	return ""
}
