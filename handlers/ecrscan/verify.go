package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/probe"
)

func init() {
	register("verify", command{
		usage: "check the deployed stack, QScanner and the Qualys token; exit 1 on any FAIL (make verify)",
		run:   runVerify,
	})
}

const verifyHelp = `usage: ecrscan verify [flags]

Checks the deployment and prints a PASS/FAIL/SKIP table:
  stack, resources     the stack is complete and every resource it should have exists
  functions            each function is active, on its architecture, with code
  event sources, bus rules, pipe
                       the queue mappings, the EventBridge rules and the Pipe are enabled
  qscanner layer       the scan function has the QScanner layer for its architecture
  qscanner runs        QScanner (QSCANNER_LAYER_BIN, else the deployed layer) runs --help
  qualys token         the token is in the stack's secret (or QUALYS_TOKEN_SECRET_ARN)
  qualys gateway       the pod's Qualys gateway accepts it (an authenticated HTTPS request)
The token is never printed. With AWS_ENDPOINT_URL set (moto), checks that need
AWS itself or a Qualys account are skipped with the reason. Exit 1 on any FAIL.

With --probe (make verify PROBE=1) it then pushes a tiny probe image, holding a
planted fake credential, to its own repository (ecrscan-probe) and follows it
through every stage, each with the time since the push: scan started, scan
completed, bus event, archive, repository tags, referrer, alert, security hub,
trace. A FAIL names its likely cause and where to look. The probe's image,
record, archive objects, temporary rule, queue and subscription are removed and
its Security Hub findings archived, also after Ctrl-C; --keep leaves them.

With --member ACCOUNT (and that account's credentials, --hub-account,
--hub-region) it checks a member account's spoke instead: the spoke stack,
its push rule (enabled, matching an ECR push, targeting the hub's ingress bus
with a role), its forwarding DLQ, and the spoke role's trust admitting the
hub's scan and tag roles.

Settings: STACK_NAME, QUALYS_TOKEN_SECRET_ARN, QUALYS_ACCESS_TOKEN, QUALYS_POD,
QUALYS_GATEWAY_URL (a private platform), QSCANNER_LAYER_BIN.

flags:
`

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := opsFlags("verify", stderr, verifyHelp)
	stackName := opsStackFlag(fs)
	qscanner := fs.String("qscanner", os.Getenv("QSCANNER_LAYER_BIN"), "local QScanner binary to run (default: build/layer/bin/qscanner if present, else the deployed layer's)")
	var pf probeFlags
	fs.BoolVar(&pf.on, "probe", false, "follow a probe image through the pipeline (make verify PROBE=1)")
	fs.BoolVar(&pf.keep, "keep", false, "with --probe: leave the probe's image, record and temporary resources for inspection")
	fs.DurationVar(&pf.timeout, "probe-timeout", 5*time.Minute, "with --probe: how long to wait for the stages after the push")
	fs.StringVar(&pf.repository, "probe-repository", probe.DefaultRepository, "with --probe: the probe's own repository")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	member := addMemberFlags(fs) // verify_member.go
	if code, done := parseOpsFlags(fs, args); done {
		return code
	}
	if member.account != "" {
		return runVerifyMember(member, *stackName, *asJSON, stdout, stderr)
	}
	failed := false
	code := withDeployer("verify", stdout, stderr, func(ctx context.Context, d *deployer.Deployer, root string) error {
		bin := *qscanner
		if bin == "" && root != "" {
			bin = filepath.Join(root, deployer.DefaultQScannerBinary)
		}
		report, err := d.Verify(ctx, deployer.VerifyInput{
			StackName:      *stackName,
			TokenSecretID:  os.Getenv("QUALYS_TOKEN_SECRET_ARN"),
			Token:          os.Getenv("QUALYS_ACCESS_TOKEN"),
			Pod:            os.Getenv("QUALYS_POD"),
			GatewayURL:     os.Getenv("QUALYS_GATEWAY_URL"),
			QScannerBinary: bin,
		})
		var pr *probe.Report
		if err == nil && pf.on {
			rep, perr := runProbe(ctx, *stackName, pf)
			if len(rep.Stages) > 0 { // an interrupted probe still reports what it saw
				pr = &rep
			}
			err, failed = perr, rep.Failed()
		}
		if rerr := renderVerify(stdout, *asJSON, report, pr); rerr != nil && err == nil {
			err = rerr
		}
		failed = failed || report.Failed()
		return err
	})
	if code == 0 && failed {
		return 1
	}
	return code
}
