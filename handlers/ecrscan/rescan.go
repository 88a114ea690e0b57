package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/ops/stack"
	"ecrscanner/infra/queue"
)

func init() {
	register("rescan", command{
		usage: "force a new scan of images now, bypassing the cache (prints the scan ID; --wait for the result)",
		run:   runRescan,
	})
}

const rescanUsage = `usage: ecrscan rescan IMAGE_OR_DIGEST... [--wait DURATION] [--stack NAME]

Sends a manual, forced scan request for each image to the stack's scan queue:
the image is scanned again now whatever its cached scan, unless a scan of it
is running (the request joins that scan). Prints each scan ID once the scan
function has claimed it. IMAGE_OR_DIGEST is repo:tag, ACCOUNT.dkr.ecr.REGION.amazonaws.com/repo:tag,
or a digest (sha256:..., [repo@]sha256:...) that has a scan record.

  --wait D        wait up to D for each scan to finish; print its summary and
                  what changed since the previous scan
  --stack NAME    the scanner's stack (default $STACK_NAME, else qualys-ecr-scanner)
  --start-timeout D  how long to wait for the scan to start (default 2m)

Exit 0: every scan started (and, with --wait, completed). Exit 1: an image
was skipped (unknown repository, deleted image) or a scan did not start,
finish or succeed in time. Exit 2: bad usage.`

type rescanOptions struct {
	stack        string
	wait         time.Duration
	startTimeout time.Duration
	images       []imageArg
}

func parseRescanArgs(args []string) (rescanOptions, error) {
	fs := flag.NewFlagSet("rescan", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := rescanOptions{}
	fs.StringVar(&o.stack, "stack", stackFromEnv(), "")
	fs.DurationVar(&o.wait, "wait", 0, "")
	fs.DurationVar(&o.startTimeout, "start-timeout", 2*time.Minute, "")
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return o, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) == 0 {
		return o, errors.New("name at least one IMAGE_OR_DIGEST")
	}
	for _, p := range positional {
		img, err := parseImageArg(p)
		if err != nil {
			return o, fmt.Errorf("%s: %w", p, err)
		}
		o.images = append(o.images, img)
	}
	return o, nil
}

func runRescan(args []string, stdout, stderr io.Writer) int {
	o, err := parseRescanArgs(args)
	if code, done := refusedArgs("rescan", rescanUsage, err, stderr); done {
		return code
	}
	ctx := context.Background()
	t, err := loadScanTargets(ctx, o.stack)
	if err != nil {
		fmt.Fprintf(stderr, "ecrscan rescan: %v\n", err)
		return exitFailed
	}
	return t.rescan(ctx, o, stdout, stderr)
}

// scanTargets is what rescan and backfill send to and read: the stack's
// scan queue and scans table, and the clients to reach them and ECR.
type scanTargets struct {
	account, region string
	queueURL        string
	store           *dynamostore.ScanStore
	sqs             *sqs.Client
	ecr             *ecr.Client
}

// loadScanTargets finds the stack's scan queue and scans table by logical
// ID, as replay and status find theirs.
func loadScanTargets(ctx context.Context, stackName string) (scanTargets, error) {
	cfg, err := loadAWSConfig(ctx)
	if err != nil {
		return scanTargets{}, err
	}
	tmpl, err := stack.Load()
	if err != nil {
		return scanTargets{}, err
	}
	d, err := stack.Describe(ctx, cloudformation.NewFromConfig(cfg), stackName, tmpl)
	if err != nil {
		return scanTargets{}, err
	}
	t := scanTargets{account: d.Account, region: d.Region, sqs: sqs.NewFromConfig(cfg), ecr: ecr.NewFromConfig(cfg)}
	table, err := d.Ref(replay.ScansTableID)
	if err != nil {
		return t, err
	}
	if t.queueURL, err = d.Ref(scanQueueID); err != nil {
		return t, err
	}
	t.store, err = dynamostore.NewScanStore(dynamodb.NewFromConfig(cfg), table)
	return t, err
}

// rescan sends one forced request per image that resolves, then reports
// each scan.
func (t scanTargets) rescan(ctx context.Context, o rescanOptions, stdout, stderr io.Writer) int {
	code := exitOK
	var msgs []events.ScanRequestMessage
	now := time.Now()
	by := "ecrscan rescan (" + os.Getenv("USER") + ")"
	for _, img := range o.images {
		ref, err := t.resolve(ctx, img)
		if err != nil {
			fmt.Fprintf(stderr, "skip %s: %v\n", img.display(), err)
			code = exitFailed
			continue
		}
		msgs = append(msgs, events.NewScanRequest(domain.CauseManual, ref, by, now, true))
	}
	if err := queue.SendScanRequests(ctx, t.sqs, t.queueURL, msgs); err != nil {
		fmt.Fprintf(stderr, "ecrscan rescan: %v\n", err)
		return exitFailed
	}
	for _, m := range msgs {
		if err := t.report(ctx, m, o, stdout); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", m.Ref.Display(), err)
			code = exitFailed
		}
	}
	return code
}

// report prints the scan that serves m: its ID once claimed and, with
// --wait, its outcome and what changed.
func (t scanTargets) report(ctx context.Context, m events.ScanRequestMessage, o rescanOptions, stdout io.Writer) error {
	s, err := awaitScan(ctx, t.store, m.Ref.Digest, m.NotBefore, false, o.startTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: scan %s %s (request %s)\n", m.Ref.Display(), s.ScanID(), s.Status(), m.RequestID)
	if o.wait <= 0 {
		return nil
	}
	if s, err = awaitScan(ctx, t.store, m.Ref.Digest, m.NotBefore, true, o.wait); err != nil {
		return err
	}
	if f := s.Failure(); s.Status() == domain.StatusFailed && f != nil {
		return fmt.Errorf("scan %s failed: %v", s.ScanID(), f)
	}
	if sum, ok := s.Summary(); ok {
		v := sum.Vulnerabilities
		fmt.Fprintf(stdout, "  completed: %d vulnerabilities (critical %d, high %d, medium %d, low %d), %d secrets\n", v.Total(), v.Critical, v.High, v.Medium, v.Low, sum.Secrets)
	}
	var changes *domain.ScanDiff
	if c, ok := s.Changes(); ok {
		changes = &c
	}
	fmt.Fprintf(stdout, "  changes:   %s\n", describeChanges(changes))
	return nil
}

// resolve turns an argument into the reference to rescan: a tag through
// ECR, a digest through its scan record's references, and checks that ECR
// still has the image. An unknown repository, a deleted image or a digest
// never scanned is an error saying so.
func (t scanTargets) resolve(ctx context.Context, img imageArg) (domain.ImageRef, error) {
	account, region := cmp.Or(img.registryID, t.account), cmp.Or(img.region, t.region)
	if img.digest == "" {
		d, err := replay.ResolveTag(ctx, t.ecr, account, region, img.repository, img.tag)
		if err != nil {
			return domain.ImageRef{}, err
		}
		return domain.NewImageRef(account, region, img.repository, d.String(), img.tag)
	}
	s, err := t.store.Get(ctx, img.digest)
	if err != nil {
		return domain.ImageRef{}, fmt.Errorf("no scan record, so no known repository: name it as repo:tag (%w)", err)
	}
	refs := s.References()
	for i := len(refs) - 1; i >= 0; i-- { // the most recent push first
		r := refs[i].ImageRef
		u, err := ecrstore.DescribeDigests(ctx, t.ecr, r.Account, r.Region, r.Repository, []domain.Digest{img.digest})
		if err == nil && len(u) > 0 {
			return r, nil
		}
	}
	return domain.ImageRef{}, fmt.Errorf("no longer in ECR (in none of its %d recorded repositories)", len(refs))
}

func (a imageArg) display() string {
	if a.digest != "" {
		return a.digest.String()
	}
	return a.repository + ":" + a.tag
}
