package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/local"
)

// playScanFunction takes one message from the scan queue and claims it as
// the scan function would, completing the scan at once.
func playScanFunction(t *testing.T, s *cliStack, queueURL string) (events.ScanRequest, error) {
	ctx := context.Background()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 1, WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) == 0 {
			continue
		}
		req, err := events.DecodeScanMessage([]byte(aws.ToString(out.Messages[0].Body)))
		if err != nil {
			return req, err
		}
		now := time.Now()
		err = s.scans.Update(ctx, req.Ref.Digest, func(sc *domain.Scan) error {
			c := domain.Claim{Ref: req.Ref, Owner: "scan-fn", Now: now, LeaseUntil: now.Add(time.Minute),
				Origin: domain.Origin{Cause: req.Cause, RequestedBy: req.RequestedBy, NotBefore: req.NotBefore}}
			if _, err := sc.Claim(c); err != nil {
				return err
			}
			return sc.Complete("scan-fn", domain.ScanResult{Report: domain.ReportLocation{Bucket: "b", Key: "k"}}, now, time.Hour)
		})
		return req, err
	}
	return events.ScanRequest{}, context.DeadlineExceeded
}

// ecrscan rescan against a stack on moto: a tag is resolved through ECR, a
// forced manual request lands in the stack's scan queue, and the CLI prints
// the scan that serves it; an unknown repository and a deleted image are
// skipped with their reasons.
func TestRescanCommand(t *testing.T) {
	s := deployCLIStack(t)
	ctx := context.Background()
	t0, err := loadScanTargets(ctx, s.st.Name)
	if err != nil {
		t.Fatal(err)
	}
	ref := newRef(t, newDigest(t), "team/rescan-cli", "v1")
	if err := local.RecordImage(ctx, ecr.NewFromConfig(s.cfg), ref); err != nil {
		t.Fatal(err)
	}
	old := s.put(t, false, time.Now().Add(-time.Hour), ref)
	done := make(chan events.ScanRequest, 1)
	go func() {
		req, err := playScanFunction(t, s, t0.queueURL)
		if err != nil {
			t.Errorf("scan function: %v", err)
		}
		done <- req
	}()
	var out, errOut bytes.Buffer
	gone := newRef(t, newDigest(t), "team/rescan-cli", "")
	code := run([]string{"rescan", "team/rescan-cli:v1", "team/no-such-repo:v1", gone.Digest.String(), "--stack", s.st.Name, "--start-timeout", "30s", "--wait", "10s"}, &out, &errOut)
	req := <-done
	if req.Cause != domain.CauseManual || req.NotBefore.IsZero() || req.Ref != ref {
		t.Errorf("request %+v; want a forced manual rescan of %s", req, ref.Display())
	}
	if code != exitFailed {
		t.Errorf("exit %d, want %d (two arguments skipped)\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out.String(), errOut.String())
	}
	rec, _ := s.scans.Get(ctx, ref.Digest)
	if rec.ScanID() == old.ScanID || !strings.Contains(out.String(), "scan "+rec.ScanID()) || !strings.Contains(out.String(), "completed:") {
		t.Errorf("stdout does not name the new scan %s (old %s):\n%s", rec.ScanID(), old.ScanID, out.String())
	}
	for _, want := range []string{"skip team/no-such-repo:v1:", "skip " + gone.Digest.String() + ": no scan record"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}
