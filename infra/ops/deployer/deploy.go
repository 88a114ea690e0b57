package deployer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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

// deployment is one Deploy under way: its input with the defaults filled
// in, and what the steps so far have found or made.
type deployment struct {
	in       DeployInput
	buildDir string
	qscanner string
	// basePrefix is the artifacts prefix the content folder goes under.
	basePrefix string
	body       []byte
	tmpl       *stack.Template
	account    string
	bucket     string
	// existing is the stack being updated; nil when creating.
	existing *stack.Deployed
	// fixed are the parameters the deployer sets itself.
	fixed     map[string]string
	params    Params
	layerArch string
	targets   []Target
	artifacts []Artifact
	// prefix is where this deployment's artifacts are.
	prefix      string
	templateURL string
}

// Deploy builds the functions and the QScanner layer, uploads them and the
// template to the artifacts bucket, creates the stack or updates it, shows
// its events until it settles and prints the outputs. A stack left in
// ROLLBACK_COMPLETE by a failed first creation holds nothing and is deleted
// first, so the next deploy can create it again.
func (d *Deployer) Deploy(ctx context.Context, in DeployInput) (*DeployResult, error) {
	p, err := newDeployment(in)
	if err != nil {
		return nil, err
	}
	if err := d.findArtifactsBucket(ctx, p); err != nil {
		return nil, err
	}
	if err := d.findExisting(ctx, p); err != nil {
		return nil, err
	}
	if p.in.Lookup, err = d.completeSecretARN(ctx, p.in.Lookup); err != nil {
		return nil, err
	}
	if err := d.preflight(p); err != nil {
		return nil, err
	}
	if err := d.buildArtifacts(ctx, p); err != nil {
		return nil, err
	}
	if err := d.uploadArtifacts(ctx, p); err != nil {
		return nil, err
	}
	if err := d.finalParams(p); err != nil {
		return nil, err
	}
	res := &DeployResult{Artifacts: p.artifacts, Bucket: p.bucket, Prefix: p.prefix, Changed: true}
	if p.existing == nil {
		return d.create(ctx, p, res)
	}
	return d.update(ctx, p, res)
}

// newDeployment checks the input, fills in its defaults and parses the
// template to deploy.
func newDeployment(in DeployInput) (*deployment, error) {
	if in.StackName == "" || in.ModuleRoot == "" {
		return nil, errors.New("deploy: stack name and module root are required")
	}
	p := &deployment{in: in, buildDir: in.BuildDir, qscanner: in.QScannerBinary, basePrefix: strings.Trim(in.ArtifactsPrefix, "/")}
	if p.in.Lookup == nil {
		p.in.Lookup = os.LookupEnv
	}
	if p.buildDir == "" {
		p.buildDir = filepath.Join(in.ModuleRoot, "build", "deploy")
	}
	if p.qscanner == "" {
		p.qscanner = filepath.Join(in.ModuleRoot, DefaultQScannerBinary)
	}
	if p.basePrefix == "" {
		p.basePrefix = DefaultArtifactsPrefix
	}
	p.body = stack.Body()
	tmpl, err := stack.Parse(p.body)
	if err != nil {
		return nil, err
	}
	p.tmpl = tmpl
	return p, nil
}

// findArtifactsBucket learns the account and names the artifacts bucket.
func (d *Deployer) findArtifactsBucket(ctx context.Context, p *deployment) error {
	id, err := d.c.Identity.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("find the AWS account: %w", err)
	}
	p.account = aws.ToString(id.Account)
	p.bucket = p.in.ArtifactsBucket
	if p.bucket == "" {
		if p.bucket, err = DefaultArtifactsBucket(p.in.StackName, p.account, d.reg); err != nil {
			return err
		}
	}
	return nil
}

// findExisting reads the stack to update, if there is one. A stack busy
// with another operation is refused; one that failed its first creation is
// deleted so it can be created again.
func (d *Deployer) findExisting(ctx context.Context, p *deployment) error {
	existing, err := d.describeStack(ctx, p.in.StackName)
	switch {
	case errors.Is(err, ErrStackNotFound):
		return nil
	case err != nil:
		return err
	case strings.HasSuffix(existing.Status, "_IN_PROGRESS"):
		return fmt.Errorf("stack %s is %s: wait for that to finish (make status), then deploy again", p.in.StackName, existing.Status)
	case existing.Status == string(cfntypes.StackStatusRollbackComplete) || existing.Status == string(cfntypes.StackStatusRollbackFailed):
		d.say("==> Stack %s is %s after a failed creation; deleting it before creating it again", p.in.StackName, existing.Status)
		return d.deleteAndWait(ctx, existing.ID, p.in.StackName)
	}
	p.existing = existing
	return nil
}

// previousParams are the deployed stack's parameter values; nil for a new
// stack.
func (p *deployment) previousParams() map[string]string {
	if p.existing == nil {
		return nil
	}
	return p.existing.Params
}

// preflight resolves the parameters and checks the QScanner binary before
// anything is built. The prefix is known only after building, so the
// parameters are resolved with the base prefix here to learn the
// architectures, and again for real by finalParams.
func (d *Deployer) preflight(p *deployment) error {
	p.fixed = map[string]string{paramArtifactsBucket: p.bucket, paramArtifactsPrefix: p.basePrefix}
	params, err := ResolveParams(p.tmpl, p.in.Lookup, p.previousParams(), p.fixed)
	if err != nil {
		return err
	}
	warnToken(d, params, p.existing == nil)
	if p.layerArch, err = LayerArch(p.tmpl, params); err != nil {
		return err
	}
	if err := CheckQScanner(p.qscanner, p.layerArch); err != nil {
		return err
	}
	p.targets, err = FunctionTargets(p.tmpl, params)
	return err
}

// buildArtifacts builds the functions and packages the QScanner layer.
func (d *Deployer) buildArtifacts(ctx context.Context, p *deployment) error {
	d.say("==> Building %d functions (provided.al2023) into %s", len(p.targets), p.buildDir)
	artifacts, err := BuildFunctions(ctx, BuildOptions{ModuleRoot: p.in.ModuleRoot, OutDir: p.buildDir, Go: p.in.Go}, p.targets)
	if err != nil {
		return err
	}
	d.say("==> Packaging the QScanner layer from %s (%s)", p.qscanner, p.layerArch)
	layer, err := PackageLayer(p.buildDir, p.qscanner, p.layerArch)
	if err != nil {
		return err
	}
	p.artifacts = append(artifacts, layer)
	for _, a := range p.artifacts {
		d.say("    %-20s %-7s %9s  %s", a.Name+".zip", a.Arch, humanBytes(a.Size), a.SHA256[:12])
	}
	return nil
}

// uploadArtifacts makes sure the artifacts bucket exists and puts the
// artifacts, under a folder named by their content, and the template there.
func (d *Deployer) uploadArtifacts(ctx context.Context, p *deployment) error {
	created, err := d.ensureBucket(ctx, p.bucket, p.account, p.in.StackName)
	if err != nil {
		return err
	}
	verb := "exists"
	if created {
		verb = "created (encrypted, public access blocked)"
	}
	d.say("==> Artifacts bucket s3://%s %s", p.bucket, verb)
	p.prefix = p.basePrefix + "/" + contentPrefix(p.artifacts)
	for _, a := range p.artifacts {
		key := p.prefix + "/" + a.Name + ".zip"
		uploaded, err := d.upload(ctx, p.bucket, key, a.Path, "application/zip")
		if err != nil {
			return err
		}
		if uploaded {
			d.say("    uploaded s3://%s/%s", p.bucket, key)
		} else {
			d.say("    already there: s3://%s/%s", p.bucket, key)
		}
	}
	body := p.body
	if d.emu != nil {
		body = d.emu.AdaptTemplate(body)
	}
	p.templateURL, err = d.uploadTemplate(ctx, p.bucket, p.basePrefix, body)
	return err
}

// finalParams resolves the parameters with the artifacts' real prefix and
// shows them.
func (d *Deployer) finalParams(p *deployment) error {
	p.fixed[paramArtifactsPrefix] = p.prefix
	params, err := ResolveParams(p.tmpl, p.in.Lookup, p.previousParams(), p.fixed)
	if err != nil {
		return err
	}
	p.params = params
	d.say("==> Parameters of stack %s", p.in.StackName)
	_ = params.Render(d.out)
	return nil
}

// capabilities acknowledge that the template creates IAM roles with names.
var capabilities = []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam}

// create creates the stack and waits for it. A creation that failed only
// because the Pipe could not yet use its new role is deleted and made again
// (withIAMRetry).
func (d *Deployer) create(ctx context.Context, p *deployment, res *DeployResult) (*DeployResult, error) {
	var out *DeployResult
	err := d.withIAMRetry(ctx, func() (string, string, error) {
		var err error
		out, err = d.createOnce(ctx, p, res)
		return res.StackID, "", err
	}, func(stackID string) error { return d.deleteAndWait(ctx, stackID, p.in.StackName) })
	return out, err
}

func (d *Deployer) createOnce(ctx context.Context, p *deployment, res *DeployResult) (*DeployResult, error) {
	d.say("==> Creating stack %s in %s (account %s)", p.in.StackName, d.reg, p.account)
	out, err := d.c.CloudFormation.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:          aws.String(p.in.StackName),
		TemplateURL:        aws.String(p.templateURL),
		Parameters:         p.params.CloudFormation(),
		Capabilities:       capabilities,
		Tags:               []cfntypes.Tag{{Key: aws.String("project"), Value: aws.String("ecr-image-scanner")}},
		ClientRequestToken: aws.String(requestToken()),
	}, d.stackOperationOptions()...)
	if err != nil {
		res.StackID = ""
		return nil, fmt.Errorf("create stack %s: %w", p.in.StackName, err)
	}
	res.StackID = aws.ToString(out.StackId)
	return d.settle(ctx, p, res, "")
}

// update updates the stack and waits for it. An update CloudFormation finds
// nothing to do for is a success that changed nothing. An update rolled back
// only because the Pipe could not yet use a changed role is made again.
func (d *Deployer) update(ctx context.Context, p *deployment, res *DeployResult) (*DeployResult, error) {
	res.StackID = p.existing.ID
	var out *DeployResult
	err := d.withIAMRetry(ctx, func() (string, string, error) {
		marker, err := d.newestEvent(ctx, p.existing.ID)
		if err != nil {
			return "", "", err
		}
		out, err = d.updateOnce(ctx, p, res, marker)
		return p.existing.ID, marker, err
	}, func(string) error { return nil })
	return out, err
}

func (d *Deployer) updateOnce(ctx context.Context, p *deployment, res *DeployResult, marker string) (*DeployResult, error) {
	d.say("==> Updating stack %s in %s (account %s)", p.in.StackName, d.reg, p.account)
	_, err := d.c.CloudFormation.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName:          aws.String(p.existing.ID),
		TemplateURL:        aws.String(p.templateURL),
		Parameters:         p.params.CloudFormation(),
		Capabilities:       capabilities,
		ClientRequestToken: aws.String(requestToken()),
	}, d.stackOperationOptions()...)
	if noUpdates(err) {
		d.say("    no changes: the stack already runs this code, template and parameters")
		res.Changed = false
		res.Status = p.existing.Status
		res.Outputs = p.existing.Outputs
		d.printOutputs(res.Outputs)
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update stack %s: %w", p.in.StackName, err)
	}
	return d.settle(ctx, p, res, marker)
}

// settle shows the stack's events (those after marker) until the operation
// ends, then its status and outputs.
func (d *Deployer) settle(ctx context.Context, p *deployment, res *DeployResult, marker string) (*DeployResult, error) {
	final, err := d.waitStack(ctx, res.StackID, marker)
	if err != nil {
		return nil, err
	}
	res.Status = string(final.StackStatus)
	if res.Status != string(cfntypes.StackStatusCreateComplete) && res.Status != string(cfntypes.StackStatusUpdateComplete) {
		return res, fmt.Errorf("stack %s: %s: %s", p.in.StackName, res.Status, aws.ToString(final.StackStatusReason))
	}
	res.Outputs = map[string]string{}
	for _, o := range final.Outputs {
		res.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	d.say("==> Stack %s is %s", p.in.StackName, res.Status)
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
