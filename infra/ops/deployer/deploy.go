package deployer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"ecrscanner/infra/ops/stack"
)

// DeployInput says what to deploy where.
type DeployInput struct {
	StackName string
	// ModuleRoot is the project checkout; functions are built from its
	// handlers/ folders.
	ModuleRoot string
	// BuildDir receives binaries and zips; empty means <ModuleRoot>/build/deploy.
	BuildDir string
	// QScannerBinary is the Linux QScanner binary for the layer; empty means
	// <ModuleRoot>/build/layer/bin/qscanner.
	QScannerBinary string
	// ArtifactsBucket is where code and template are uploaded; empty means
	// DefaultArtifactsBucket, created when missing.
	ArtifactsBucket string
	// ArtifactsPrefix is the key prefix; empty means DefaultArtifactsPrefix.
	ArtifactsPrefix string
	// Lookup reads the parameters' environment variables (ParameterEnv);
	// nil means os.LookupEnv.
	Lookup func(string) (string, bool)
	// Go is the go command; empty means $GO or go.
	Go string
}

// DeployResult is what a deployment did.
type DeployResult struct {
	StackID string
	Status  string
	// Changed is false when CloudFormation found nothing to update.
	Changed   bool
	Outputs   map[string]string
	Artifacts []Artifact
	Bucket    string
	Prefix    string
}

// Deploy builds the functions and the QScanner layer, uploads them and the
// template to the artifacts bucket, creates the stack or updates it, shows
// its events until it settles and prints the outputs. A stack left in
// ROLLBACK_COMPLETE by a failed first creation holds nothing and is deleted
// first, so the next deploy can create it again.
func (d *Deployer) Deploy(ctx context.Context, in DeployInput) (*DeployResult, error) {
	if in.StackName == "" || in.ModuleRoot == "" {
		return nil, errors.New("deploy: stack name and module root are required")
	}
	lookup := in.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	buildDir := in.BuildDir
	if buildDir == "" {
		buildDir = filepath.Join(in.ModuleRoot, "build", "deploy")
	}
	qscanner := in.QScannerBinary
	if qscanner == "" {
		qscanner = filepath.Join(in.ModuleRoot, DefaultQScannerBinary)
	}
	basePrefix := strings.Trim(in.ArtifactsPrefix, "/")
	if basePrefix == "" {
		basePrefix = DefaultArtifactsPrefix
	}
	body := stack.Body()
	tmpl, err := stack.Parse(body)
	if err != nil {
		return nil, err
	}

	id, err := d.c.Identity.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("find the AWS account: %w", err)
	}
	account := aws.ToString(id.Account)
	bucket := in.ArtifactsBucket
	if bucket == "" {
		if bucket, err = DefaultArtifactsBucket(in.StackName, account, d.reg); err != nil {
			return nil, err
		}
	}

	existing, err := d.describeStack(ctx, in.StackName)
	switch {
	case errors.Is(err, ErrStackNotFound):
		existing = nil
	case err != nil:
		return nil, err
	case strings.HasSuffix(existing.Status, "_IN_PROGRESS"):
		return nil, fmt.Errorf("stack %s is %s: wait for that to finish (make status), then deploy again", in.StackName, existing.Status)
	case existing.Status == string(cfntypes.StackStatusRollbackComplete) || existing.Status == string(cfntypes.StackStatusRollbackFailed):
		d.say("==> Stack %s is %s after a failed creation; deleting it before creating it again", in.StackName, existing.Status)
		if err := d.deleteAndWait(ctx, existing.ID, in.StackName); err != nil {
			return nil, err
		}
		existing = nil
	}
	var previous map[string]string
	if existing != nil {
		previous = existing.Params
	}

	// The prefix is known only after building; resolve once with a
	// placeholder to learn the architectures, then again for real.
	fixed := map[string]string{paramArtifactsBucket: bucket, paramArtifactsPrefix: basePrefix}
	params, err := ResolveParams(tmpl, lookup, previous, fixed)
	if err != nil {
		return nil, err
	}
	warnToken(d, params, existing == nil)
	layerArch, err := LayerArch(tmpl, params)
	if err != nil {
		return nil, err
	}
	if err := CheckQScanner(qscanner, layerArch); err != nil {
		return nil, err
	}
	targets, err := FunctionTargets(tmpl, params)
	if err != nil {
		return nil, err
	}

	d.say("==> Building %d functions (provided.al2023) into %s", len(targets), buildDir)
	artifacts, err := BuildFunctions(ctx, BuildOptions{ModuleRoot: in.ModuleRoot, OutDir: buildDir, Go: in.Go}, targets)
	if err != nil {
		return nil, err
	}
	d.say("==> Packaging the QScanner layer from %s (%s)", qscanner, layerArch)
	layer, err := PackageLayer(buildDir, qscanner, layerArch)
	if err != nil {
		return nil, err
	}
	artifacts = append(artifacts, layer)
	for _, a := range artifacts {
		d.say("    %-20s %-7s %9s  %s", a.Name+".zip", a.Arch, humanBytes(a.Size), a.SHA256[:12])
	}

	created, err := d.ensureBucket(ctx, bucket, account, in.StackName)
	if err != nil {
		return nil, err
	}
	verb := "exists"
	if created {
		verb = "created (encrypted, public access blocked)"
	}
	d.say("==> Artifacts bucket s3://%s %s", bucket, verb)
	prefix := basePrefix + "/" + contentPrefix(artifacts)
	for _, a := range artifacts {
		key := prefix + "/" + a.Name + ".zip"
		uploaded, err := d.upload(ctx, bucket, key, a.Path, "application/zip")
		if err != nil {
			return nil, err
		}
		if uploaded {
			d.say("    uploaded s3://%s/%s", bucket, key)
		} else {
			d.say("    already there: s3://%s/%s", bucket, key)
		}
	}
	templateURL, err := d.uploadTemplate(ctx, bucket, basePrefix, body)
	if err != nil {
		return nil, err
	}

	fixed[paramArtifactsPrefix] = prefix
	if params, err = ResolveParams(tmpl, lookup, previous, fixed); err != nil {
		return nil, err
	}
	d.say("==> Parameters of stack %s", in.StackName)
	_ = params.Render(d.out)

	res := &DeployResult{Artifacts: artifacts, Bucket: bucket, Prefix: prefix, Changed: true}
	caps := []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam}
	var marker string
	if existing == nil {
		d.say("==> Creating stack %s in %s (account %s)", in.StackName, d.reg, account)
		out, err := d.c.CloudFormation.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName:          aws.String(in.StackName),
			TemplateURL:        aws.String(templateURL),
			Parameters:         params.CloudFormation(),
			Capabilities:       caps,
			Tags:               []cfntypes.Tag{{Key: aws.String("project"), Value: aws.String("ecr-image-scanner")}},
			ClientRequestToken: aws.String(requestToken()),
		}, d.noRetryLocally)
		if err != nil {
			return nil, fmt.Errorf("create stack %s: %w", in.StackName, err)
		}
		res.StackID = aws.ToString(out.StackId)
	} else {
		res.StackID = existing.ID
		if marker, err = d.newestEvent(ctx, existing.ID); err != nil {
			return nil, err
		}
		d.say("==> Updating stack %s in %s (account %s)", in.StackName, d.reg, account)
		_, err := d.c.CloudFormation.UpdateStack(ctx, &cloudformation.UpdateStackInput{
			StackName:          aws.String(existing.ID),
			TemplateURL:        aws.String(templateURL),
			Parameters:         params.CloudFormation(),
			Capabilities:       caps,
			ClientRequestToken: aws.String(requestToken()),
		}, d.noRetryLocally)
		if noUpdates(err) {
			d.say("    no changes: the stack already runs this code, template and parameters")
			res.Changed = false
			res.Status = existing.Status
			res.Outputs = existing.Outputs
			d.printOutputs(res.Outputs)
			return res, nil
		}
		if err != nil {
			return nil, fmt.Errorf("update stack %s: %w", in.StackName, err)
		}
	}
	final, err := d.waitStack(ctx, res.StackID, marker)
	if err != nil {
		return nil, err
	}
	res.Status = string(final.StackStatus)
	if res.Status != string(cfntypes.StackStatusCreateComplete) && res.Status != string(cfntypes.StackStatusUpdateComplete) {
		return res, fmt.Errorf("stack %s: %s: %s", in.StackName, res.Status, aws.ToString(final.StackStatusReason))
	}
	res.Outputs = map[string]string{}
	for _, o := range final.Outputs {
		res.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	d.say("==> Stack %s is %s", in.StackName, res.Status)
	d.printOutputs(res.Outputs)
	return res, nil
}

// warnToken says so when the stack will start without a Qualys token.
func warnToken(d *Deployer, ps Params, creating bool) {
	if !creating {
		return
	}
	if ps.Value(paramAccessToken) == "" && ps.Value(paramTokenSecretArn) == "" {
		d.say("warning: neither QUALYS_ACCESS_TOKEN nor QUALYS_TOKEN_SECRET_ARN is set: the stack creates an empty secret;\n" +
			"         put the token into it (see the QualysTokenSecretArn output) before the first scan, then run make verify")
	}
}

func (d *Deployer) printOutputs(outputs map[string]string) {
	if len(outputs) == 0 {
		return
	}
	d.say("==> Outputs")
	keys := make([]string, 0, len(outputs))
	for k := range outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t%s\n", k, outputs[k])
	}
	_ = tw.Flush()
}

// requestToken makes a CloudFormation operation idempotent, so the SDK's
// retry of a create, update or delete whose first attempt went through does
// not fail or start a second operation.
func requestToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ecrscan-" + hex.EncodeToString(b[:])
}

// noRetryLocally turns retries off for stack operations against moto: it
// ignores request tokens, and its retried UpdateStack after an internal
// error answers "No updates are to be performed", which would read as
// success.
func (d *Deployer) noRetryLocally(o *cloudformation.Options) {
	if d.local {
		o.RetryMaxAttempts = 1
	}
}

// noUpdates reports CloudFormation's refusal of an update that changes
// nothing, which for a deploy means success.
func noUpdates(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "No updates are to be performed")
}

// newestEvent returns the ID of the stack's most recent event, so that
// waiting shows only the events of the operation that follows.
func (d *Deployer) newestEvent(ctx context.Context, stackID string) (string, error) {
	out, err := d.c.CloudFormation.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	if err != nil {
		return "", fmt.Errorf("read events of stack %s: %w", stackID, err)
	}
	if len(out.StackEvents) == 0 {
		return "", nil
	}
	return aws.ToString(out.StackEvents[0].EventId), nil
}

// maxEventPages bounds how far back one poll reads the event history.
const maxEventPages = 20

// waitStack polls the stack until no operation is in progress, printing its
// new events (those after marker, oldest first) as they come, and returns
// its final description. A stack that disappears during a deletion reads as
// DELETE_COMPLETE.
func (d *Deployer) waitStack(ctx context.Context, stackID, marker string) (cfntypes.Stack, error) {
	seen := map[string]bool{}
	for {
		if err := d.printNewEvents(ctx, stackID, &marker, seen); err != nil {
			return cfntypes.Stack{}, err
		}
		out, err := d.c.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
		if err != nil {
			if stackMissing(err) {
				return cfntypes.Stack{StackId: aws.String(stackID), StackStatus: cfntypes.StackStatusDeleteComplete}, nil
			}
			return cfntypes.Stack{}, fmt.Errorf("describe stack %s: %w", stackID, err)
		}
		if len(out.Stacks) == 0 {
			return cfntypes.Stack{StackId: aws.String(stackID), StackStatus: cfntypes.StackStatusDeleteComplete}, nil
		}
		st := out.Stacks[0]
		if !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS") {
			// Events written between the last poll and the final status.
			if err := d.printNewEvents(ctx, stackID, &marker, seen); err != nil {
				return cfntypes.Stack{}, err
			}
			return st, nil
		}
		if err := d.sleep(ctx); err != nil {
			return cfntypes.Stack{}, fmt.Errorf("wait for stack %s: %w", stackID, err)
		}
	}
}

func (d *Deployer) printNewEvents(ctx context.Context, stackID string, marker *string, seen map[string]bool) error {
	var fresh []cfntypes.StackEvent
	var next *string
	done := false
	for page := 0; page < maxEventPages && !done; page++ {
		out, err := d.c.CloudFormation.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID), NextToken: next})
		if err != nil {
			if stackMissing(err) {
				return nil
			}
			return fmt.Errorf("read events of stack %s: %w", stackID, err)
		}
		for _, e := range out.StackEvents {
			id := aws.ToString(e.EventId)
			if id == *marker || seen[id] {
				done = true
				break
			}
			fresh = append(fresh, e)
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	*marker = aws.ToString(fresh[0].EventId)
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	for i := len(fresh) - 1; i >= 0; i-- {
		e := fresh[i]
		seen[aws.ToString(e.EventId)] = true
		ts := ""
		if e.Timestamp != nil {
			ts = e.Timestamp.UTC().Format(time.TimeOnly)
		}
		line := fmt.Sprintf("  %s\t%s\t%s\t%s", ts, e.ResourceStatus, aws.ToString(e.ResourceType), aws.ToString(e.LogicalResourceId))
		if r := aws.ToString(e.ResourceStatusReason); r != "" {
			line += "\t" + oneLine(r, 160)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// deleteAndWait deletes a stack and waits until it is gone.
func (d *Deployer) deleteAndWait(ctx context.Context, stackID, name string) error {
	marker, err := d.newestEvent(ctx, stackID)
	if err != nil {
		return err
	}
	if _, err := d.c.CloudFormation.DeleteStack(ctx, &cloudformation.DeleteStackInput{
		StackName: aws.String(stackID), ClientRequestToken: aws.String(requestToken()),
	}, d.noRetryLocally); err != nil {
		return fmt.Errorf("delete stack %s: %w", name, err)
	}
	st, err := d.waitStack(ctx, stackID, marker)
	if err != nil {
		return err
	}
	if st.StackStatus != cfntypes.StackStatusDeleteComplete {
		return fmt.Errorf("delete stack %s: %s: %s", name, st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	return nil
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max-1] + "…"
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
