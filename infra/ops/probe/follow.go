package probe

import (
	"ecrscanner/infra/clock"

	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/deployer"
)

// check looks at one stage once: a Result when the stage is decided, ""
// while it is still pending, and a detail for the report either way.
type check func(ctx context.Context) (deployer.Result, string)

// follow waits for the pipeline stages, polling each pending one every
// Poll until all are decided, the scan fails (nothing downstream follows),
// the timeout passes or ctx ends. Each stage's time is the time since the
// push at which it was first seen done.
func (r *run) follow(ctx context.Context) []Stage {
	done := r.wait(ctx, r.pushT.Add(r.p.opts.Timeout))
	var out []Stage
	for _, name := range pipelineStages {
		s, ok := done[name]
		switch {
		case ok:
		case done[StageScan].Result == deployer.Fail:
			s = Stage{Name: name, Result: deployer.Skip, Detail: "no completed scan to follow"}
		case ctx.Err() != nil:
			// Not a fault of the stage: no time and no cause.
			s = Stage{Name: name, Result: deployer.Fail, Detail: "interrupted before it was seen"}
		default:
			s = Stage{Name: name, Result: deployer.Fail, After: time.Since(r.pushT), Detail: fmt.Sprintf("not seen within %v of the push", r.p.opts.Timeout)}
		}
		if s.Result == deployer.Fail && ctx.Err() == nil {
			s.Cause = r.cause(context.WithoutCancel(ctx), name)
		}
		out = append(out, s)
	}
	return out
}

// wait polls the pending stages until all are decided, the scan fails,
// the deadline passes or ctx ends, and returns those decided.
func (r *run) wait(ctx context.Context, deadline time.Time) map[string]Stage {
	checks := r.checks()
	done := map[string]Stage{}
	for name, reason := range r.skips() {
		done[name] = Stage{Name: name, Result: deployer.Skip, Detail: reason}
	}
	for len(done) < len(pipelineStages) && time.Now().Before(deadline) && ctx.Err() == nil {
		r.drain(ctx)
		for _, name := range pipelineStages {
			if _, ok := done[name]; ok {
				continue
			}
			if res, detail := checks[name](ctx); res != "" {
				done[name] = Stage{Name: name, Result: res, After: time.Since(r.pushT), Detail: detail}
			}
		}
		if s, ok := done[StageScan]; ok && s.Result == deployer.Fail {
			break
		}
		_ = clock.Sleep(ctx, r.p.opts.Poll) // the loop checks ctx
	}
	return done
}

// settleTimeout bounds how long an interrupted run lets its image finish
// going through the pipeline before cleaning up.
const settleTimeout = 45 * time.Second

// settle, after an interrupted wait, lets the pushed image finish its way
// through the pipeline (bounded by settleTimeout), so that what the stages
// write after the interruption is written before the clean-up, not after
// it. It returns how long it waited.
func (r *run) settle(ctx context.Context) time.Duration {
	start := time.Now()
	r.wait(ctx, start.Add(settleTimeout))
	return time.Since(start)
}

// skips are the stages this deployment does not run, with the reason.
func (r *run) skips() map[string]string {
	out := map[string]string{}
	if r.st.Params["EnableAlerts"] == "false" {
		out[StageAlert] = "EnableAlerts is false"
	} else if r.st.Params["AlertOnSecrets"] == "false" {
		out[StageAlert] = "AlertOnSecrets is false: the probe's secret raises no alert"
	}
	if r.st.Params["EnableSecurityHub"] == "false" {
		out[StageSecurityHub] = "EnableSecurityHub is false"
	}
	if r.p.opts.NoTraces != "" {
		out[StageTrace] = r.p.opts.NoTraces
	}
	return out
}

func (r *run) checks() map[string]check {
	return map[string]check{
		StageTrigger: r.checkTrigger, StageScan: r.checkScan, StageBus: r.checkBus,
		StageArchive: r.checkArchive, StageTags: r.checkTags, StageReferrer: r.checkReferrer,
		StageAlert: r.checkAlert, StageSecurityHub: r.checkSecurityHub, StageTrace: r.checkTrace,
	}
}

// record reads the probe digest's scan record; false while there is none.
func (r *run) record(ctx context.Context) (domain.ScanRecord, bool) {
	out, err := r.p.c.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.physical("ScansTable")), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"digest": &ddbtypes.AttributeValueMemberS{Value: r.ref.Digest.String()}},
	})
	if err != nil || len(out.Item) == 0 {
		return domain.ScanRecord{}, false
	}
	rec, err := dynamostore.UnmarshalScanRecord(out.Item)
	return rec, err == nil
}

// checkTrigger: the scan rule delivered the push and the scan function took
// it up, which it shows by writing the digest's record.
func (r *run) checkTrigger(ctx context.Context) (deployer.Result, string) {
	rec, ok := r.record(ctx)
	if !ok {
		return "", ""
	}
	return deployer.Pass, fmt.Sprintf("record %s, scan %s", rec.Status, rec.ScanID)
}

// checkScan: the record is COMPLETED and the scanner reported the planted
// secret (what QScanner found, not a count fixed here: at least one secret).
func (r *run) checkScan(ctx context.Context) (deployer.Result, string) {
	rec, ok := r.record(ctx)
	switch {
	case !ok:
		return "", ""
	case rec.Status == domain.StatusFailed && rec.FinalFailure && rec.Failure != nil:
		return deployer.Fail, fmt.Sprintf("scan failed: %s: %s", rec.Failure.Class, domain.Truncate(rec.Failure.Reason, 160, domain.Ellipsis))
	case rec.Status != domain.StatusCompleted:
		return "", ""
	case rec.Summary == nil || rec.Summary.Secrets < 1:
		return deployer.Fail, "completed without reporting the planted secret: is secret scanning on (ScanTypes)?"
	}
	return deployer.Pass, fmt.Sprintf("%d vulnerabilities, %d secrets (QScanner %s)", rec.Summary.Vulnerabilities.Total(), rec.Summary.Secrets, rec.QScannerVersion)
}
