package deployer

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/pipes"
	pipestypes "github.com/aws/aws-sdk-go-v2/service/pipes/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/infra/ops/motoserver"
	"ecrscanner/infra/ops/stack"
	"ecrscanner/infra/secretstore"
)

// Result is the outcome of one check.
type Result string

// The outcomes of a check.
const (
	Pass Result = "PASS"
	Fail Result = "FAIL"
	Skip Result = "SKIP"
)

// Check is one line of a verification.
type Check struct {
	Name   string
	Result Result
	Detail string
}

// Report is the outcome of Verify, one check per line.
type Report struct {
	Checks []Check
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	return slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Result == Fail })
}

func (r *Report) add(name string, res Result, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Result: res, Detail: fmt.Sprintf(format, args...)})
}

// Render writes the report as a table with a closing count.
func (r Report) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	counts := map[Result]int{}
	for _, c := range r.Checks {
		counts[c.Result]++
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Result, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", counts[Pass], counts[Fail], counts[Skip])
	return err
}

// The names of Verify's checks, in the order it runs them.
const (
	CheckStack        = "stack"
	CheckResources    = "resources"
	CheckFunctions    = "functions"
	CheckEventSources = "event sources"
	CheckRules        = "bus rules"
	CheckPipe         = "pipe"
	CheckLayer        = "qscanner layer"
	CheckQScannerRuns = "qscanner runs"
	CheckToken        = "qualys token"
	CheckGateway      = "qualys gateway"
)

// VerifyInput says what to verify.
type VerifyInput struct {
	StackName string
	// TokenSecretID names a secret holding the token (QUALYS_TOKEN_SECRET_ARN);
	// empty means the stack's own.
	TokenSecretID string
	// Token is the operator's QUALYS_ACCESS_TOKEN, used when no secret is
	// known (moto creates none).
	Token string
	// Pod overrides the stack's QualysPod; GatewayURL overrides the pod's
	// gateway (QUALYS_GATEWAY_URL: a private platform).
	Pod        string
	GatewayURL string
	// QScannerBinary is a local QScanner to run; when empty or missing, the
	// binary in the deployed layer zip is run instead.
	QScannerBinary string
	// HTTPClient makes the gateway request; nil means one with a 30-second
	// timeout.
	HTTPClient *http.Client
	// Timeout bounds the QScanner run. Zero means 30 seconds.
	Timeout time.Duration
}

const localReason = "moto's CloudFormation does not create %s"

// Verify checks a deployment end to end: the stack and its resources, the
// functions, their event sources, the bus rules and the Pipe are in place and
// enabled; the QScanner layer is attached and its binary runs; the Qualys
// token is present and the pod's gateway accepts it. Against a local
// endpoint (Options.Local) it runs what needs neither AWS itself nor a
// Qualys account and skips the rest with the reason. Check failures are in
// the report; the error is only for an interrupted run.
func (d *Deployer) Verify(ctx context.Context, in VerifyInput) (Report, error) {
	var r Report
	s, err := d.inspect(ctx, in.StackName)
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		r.add(CheckStack, Fail, "%v", err)
		for _, name := range []string{CheckResources, CheckFunctions, CheckEventSources, CheckRules, CheckPipe, CheckLayer, CheckQScannerRuns, CheckToken, CheckGateway} {
			r.add(name, Skip, "no stack")
		}
		return r, nil
	}
	if stable(s.Status) {
		r.add(CheckStack, Pass, "%s is %s in %s", s.Name, s.Status, d.reg)
	} else {
		r.add(CheckStack, Fail, "%s is %s %s", s.Name, s.Status, s.Reason)
	}
	params := paramsOf(s.Params)
	d.checkResources(&r, s)
	fns := d.checkFunctions(ctx, &r, s, params)
	d.checkEventSources(ctx, &r, s)
	d.checkRules(ctx, &r, s)
	d.checkPipe(ctx, &r, s)
	d.checkLayer(ctx, &r, s, fns)
	d.checkQScanner(ctx, &r, s, in)
	token := d.checkToken(ctx, &r, s, fns, in)
	d.checkGateway(ctx, &r, s, fns, in, token)
	return r, ctx.Err()
}

// paramsOf turns deployed parameter values into Params for the helpers that
// resolve Refs.
func paramsOf(m map[string]string) Params {
	ps := make(Params, 0, len(m))
	for k, v := range m {
		ps = append(ps, Param{Key: k, Value: v, From: FromPrevious})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	return ps
}

func (d *Deployer) checkResources(r *Report, s *Deployed) {
	var problems, localMissing []string
	expected := 0
	ids := make([]string, 0, len(s.Template.Resources))
	for id := range s.Template.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		res := s.Template.Resources[id]
		if !s.Required(id) {
			continue
		}
		expected++
		got, ok := s.Resource(id)
		switch {
		case !ok && d.local && motoserver.CloudFormationSkips[res.Type]:
			localMissing = append(localMissing, id)
		case !ok:
			problems = append(problems, id+" missing")
		case !strings.HasSuffix(got.Status, "_COMPLETE") || strings.Contains(got.Status, "DELETE"):
			problems = append(problems, fmt.Sprintf("%s %s", id, got.Status))
		}
	}
	if len(problems) > 0 {
		r.add(CheckResources, Fail, "%d of %d not in place: %s", len(problems), expected, firstFew(problems, 5))
		return
	}
	detail := fmt.Sprintf("%d of %d resources in place", expected-len(localMissing), expected)
	if len(localMissing) > 0 {
		detail += fmt.Sprintf("; %d of types moto does not create: %s", len(localMissing), firstFew(localMissing, 4))
	}
	r.add(CheckResources, Pass, "%s", detail)
}

// deployedFunction is a function of the stack as Lambda describes it.
type deployedFunction struct {
	spec   stack.FunctionSpec
	name   string
	arch   string
	env    map[string]string
	layers []string
}

func (d *Deployer) checkFunctions(ctx context.Context, r *Report, s *Deployed, ps Params) []deployedFunction {
	targets, err := FunctionTargets(s.Template, ps)
	if err != nil {
		r.add(CheckFunctions, Fail, "%v", err)
		return nil
	}
	want := map[string]string{}
	for _, t := range targets {
		want[t.Dir] = t.Arch
	}
	var out []deployedFunction
	var problems, fine []string
	ignored := 0
	for _, f := range s.Template.Functions() {
		res, ok := s.Resource(f.LogicalID)
		if !ok && !s.Required(f.LogicalID) {
			continue
		}
		if !ok || res.PhysicalID == "" {
			problems = append(problems, f.HandlerDir+" missing")
			continue
		}
		got, err := d.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(res.PhysicalID)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.HandlerDir, err))
			continue
		}
		cfg := got.Configuration
		df := deployedFunction{spec: f, name: res.PhysicalID, arch: ArchX86, env: map[string]string{}}
		if len(cfg.Architectures) > 0 {
			df.arch = string(cfg.Architectures[0])
		}
		if cfg.Environment != nil {
			df.env = cfg.Environment.Variables
		}
		for _, l := range cfg.Layers {
			df.layers = append(df.layers, aws.ToString(l.Arn))
		}
		out = append(out, df)
		switch {
		case cfg.State != "" && cfg.State != "Active":
			problems = append(problems, fmt.Sprintf("%s is %s: %s", f.HandlerDir, cfg.State, aws.ToString(cfg.StateReason)))
		case cfg.LastUpdateStatus == "Failed":
			problems = append(problems, fmt.Sprintf("%s: last update failed: %s", f.HandlerDir, aws.ToString(cfg.LastUpdateStatusReason)))
		case df.arch != want[f.HandlerDir] && d.local:
			// moto's CloudFormation drops the Architectures property.
			ignored++
			fine = append(fine, fmt.Sprintf("%s (%s)", f.HandlerDir, want[f.HandlerDir]))
		case df.arch != want[f.HandlerDir]:
			problems = append(problems, fmt.Sprintf("%s runs on %s, the stack says %s", f.HandlerDir, df.arch, want[f.HandlerDir]))
		case cfg.CodeSize == 0:
			problems = append(problems, f.HandlerDir+" has no code")
		default:
			fine = append(fine, fmt.Sprintf("%s (%s)", f.HandlerDir, df.arch))
		}
	}
	if len(problems) > 0 {
		r.add(CheckFunctions, Fail, "%s", firstFew(problems, 3))
	} else {
		detail := fmt.Sprintf("%d active: %s", len(fine), strings.Join(fine, ", "))
		if ignored > 0 {
			detail += fmt.Sprintf("; moto ignored the Architectures of %d", ignored)
		}
		r.add(CheckFunctions, Pass, "%s", detail)
	}
	return out
}

func (d *Deployer) checkEventSources(ctx context.Context, r *Report, s *Deployed) {
	var problems []string
	n := 0
	for _, m := range s.Template.EventSourceMappings() {
		res, ok := s.Resource(m.LogicalID)
		if !ok && !s.Required(m.LogicalID) {
			continue
		}
		if !ok || res.PhysicalID == "" {
			problems = append(problems, m.LogicalID+" missing")
			continue
		}
		out, err := d.c.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(res.PhysicalID)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", m.LogicalID, err))
			continue
		}
		if state := aws.ToString(out.State); state != "Enabled" {
			problems = append(problems, fmt.Sprintf("%s is %s", m.LogicalID, state))
			continue
		}
		n++
	}
	if len(problems) > 0 {
		r.add(CheckEventSources, Fail, "%s", firstFew(problems, 3))
		return
	}
	r.add(CheckEventSources, Pass, "%d queue-to-function mappings enabled", n)
}

func (d *Deployer) checkRules(ctx context.Context, r *Report, s *Deployed) {
	buses := []string{"default"}
	for id, res := range s.Template.Resources {
		if res.Type == "AWS::Events::EventBus" {
			buses = append(buses, id)
		}
	}
	sort.Strings(buses[1:])
	var problems, fine []string
	for _, bus := range buses {
		for _, rule := range s.Template.BusRules(bus) {
			res, ok := s.Resource(rule.LogicalID)
			if !ok {
				if s.Required(rule.LogicalID) {
					problems = append(problems, rule.LogicalID+" missing")
				}
				continue
			}
			busName, name := "default", res.PhysicalID
			if b, n, split := strings.Cut(res.PhysicalID, "|"); split {
				busName, name = b, n
			} else if bus != "default" {
				busName = d.busName(s, bus)
			}
			if busName == "" {
				problems = append(problems, fmt.Sprintf("%s: cannot tell the name of bus %s", rule.LogicalID, bus))
				continue
			}
			out, err := d.c.Events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(busName)})
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", rule.LogicalID, err))
				continue
			}
			if out.State != "ENABLED" {
				problems = append(problems, fmt.Sprintf("%s is %s", rule.LogicalID, out.State))
				continue
			}
			fine = append(fine, rule.LogicalID)
		}
	}
	switch {
	case len(problems) > 0:
		r.add(CheckRules, Fail, "%s", firstFew(problems, 3))
	case len(fine) == 0:
		r.add(CheckRules, Fail, "the stack has no rules")
	default:
		r.add(CheckRules, Pass, "%d enabled: %s", len(fine), strings.Join(fine, ", "))
	}
}

// busName is the name of one of the stack's buses: its physical ID, or the
// output that names it (moto reports no physical ID for buses).
func (d *Deployer) busName(s *Deployed, logicalID string) string {
	if res, ok := s.Resource(logicalID); ok && res.PhysicalID != "" {
		if i := strings.LastIndex(res.PhysicalID, "/"); strings.HasPrefix(res.PhysicalID, "arn:") && i >= 0 {
			return res.PhysicalID[i+1:]
		}
		return res.PhysicalID
	}
	for key, o := range s.Template.Outputs {
		m, _ := o.Value.(map[string]any)
		ga, _ := m["Fn::GetAtt"].([]any)
		if len(ga) == 2 && ga[0] == logicalID && ga[1] == "Name" || m["Ref"] == logicalID {
			if v := s.Outputs[key]; v != "" {
				return v
			}
		}
	}
	return ""
}

func (d *Deployer) checkPipe(ctx context.Context, r *Report, s *Deployed) {
	var ids []string
	for id, res := range s.Template.Resources {
		if res.Type == "AWS::Pipes::Pipe" && s.Required(id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		r.add(CheckPipe, Skip, "the template has no pipe")
		return
	}
	var problems, fine []string
	for _, id := range ids {
		res, ok := s.Resource(id)
		if !ok || res.PhysicalID == "" {
			if d.local {
				r.add(CheckPipe, Skip, localReason+" (the local runner plays %s)", "AWS::Pipes::Pipe", id)
				return
			}
			problems = append(problems, id+" missing")
			continue
		}
		name := res.PhysicalID
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		out, err := d.c.Pipes.DescribePipe(ctx, &pipes.DescribePipeInput{Name: aws.String(name)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		if out.DesiredState != pipestypes.RequestedPipeStateDescribeResponseRunning || out.CurrentState != pipestypes.PipeStateRunning {
			problems = append(problems, fmt.Sprintf("%s is %s (desired %s) %s", name, out.CurrentState, out.DesiredState, aws.ToString(out.StateReason)))
			continue
		}
		fine = append(fine, name+" RUNNING")
	}
	if len(problems) > 0 {
		r.add(CheckPipe, Fail, "%s", firstFew(problems, 3))
		return
	}
	r.add(CheckPipe, Pass, "%s", strings.Join(fine, ", "))
}

// checkLayer checks that the function using the QScanner layer has it
// attached, and that the layer version exists for the function's
// architecture.
func (d *Deployer) checkLayer(ctx context.Context, r *Report, s *Deployed, fns []deployedFunction) {
	var layerID string
	for id, res := range s.Template.Resources {
		if res.Type == "AWS::Lambda::LayerVersion" {
			layerID = id
		}
	}
	if layerID == "" {
		r.add(CheckLayer, Fail, "the template has no layer")
		return
	}
	var user *deployedFunction
	for i, f := range fns {
		if layers, _ := s.Template.Resources[f.spec.LogicalID].Properties["Layers"].([]any); slices.ContainsFunc(layers, func(l any) bool {
			m, _ := l.(map[string]any)
			return m["Ref"] == layerID
		}) {
			user = &fns[i]
		}
	}
	if user == nil {
		r.add(CheckLayer, Fail, "no deployed function uses %s", layerID)
		return
	}
	res, _ := s.Resource(layerID)
	if len(user.layers) == 0 {
		if d.local && res.PhysicalID == "" {
			r.add(CheckLayer, Skip, "moto's CloudFormation creates %s but reports no ARN for it and ignores the Layers of %s", layerID, user.spec.HandlerDir)
			return
		}
		r.add(CheckLayer, Fail, "function %s has no layers: QScanner is missing at /opt/bin/qscanner", user.name)
		return
	}
	if res.PhysicalID != "" && !slices.Contains(user.layers, res.PhysicalID) {
		r.add(CheckLayer, Fail, "function %s uses %s, not the stack's layer %s", user.name, strings.Join(user.layers, ", "), res.PhysicalID)
		return
	}
	arn := user.layers[0]
	if res.PhysicalID != "" {
		arn = res.PhysicalID
	}
	name, version, err := splitLayerARN(arn)
	if err != nil {
		r.add(CheckLayer, Fail, "%v", err)
		return
	}
	out, err := d.c.Lambda.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String(name), VersionNumber: aws.Int64(version)})
	if err != nil {
		r.add(CheckLayer, Fail, "layer %s: %v", arn, err)
		return
	}
	var archs []string
	for _, a := range out.CompatibleArchitectures {
		archs = append(archs, string(a))
	}
	if len(archs) > 0 && !slices.Contains(archs, user.arch) {
		r.add(CheckLayer, Fail, "layer %s is for %s, function %s runs on %s", arn, strings.Join(archs, ", "), user.spec.HandlerDir, user.arch)
		return
	}
	size := int64(0)
	if out.Content != nil {
		size = out.Content.CodeSize
	}
	r.add(CheckLayer, Pass, "%s version %d attached to %s (%s)", name, version, user.spec.HandlerDir, humanBytes(size))
}

func splitLayerARN(arn string) (string, int64, error) {
	// arn:aws:lambda:<region>:<account>:layer:<name>:<version>
	parts := strings.Split(arn, ":")
	if len(parts) != 8 || parts[5] != "layer" {
		return "", 0, fmt.Errorf("%q is not a layer version ARN", arn)
	}
	v, err := strconv.ParseInt(parts[7], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not a layer version ARN", arn)
	}
	return parts[6], v, nil
}

// checkQScanner runs `qscanner --help`: the local binary when there is one,
// else the one in the deployed layer zip.
func (d *Deployer) checkQScanner(ctx context.Context, r *Report, s *Deployed, in VerifyInput) {
	tmp, err := os.MkdirTemp("", "ecrscan-verify-")
	if err != nil {
		r.add(CheckQScannerRuns, Fail, "%v", err)
		return
	}
	defer os.RemoveAll(tmp)
	bin, source := in.QScannerBinary, in.QScannerBinary
	if fi, err := os.Stat(bin); bin == "" || err != nil || fi.IsDir() {
		bucket, prefix := s.Params[paramArtifactsBucket], s.Params[paramArtifactsPrefix]
		key := prefix + "/" + layerName + ".zip"
		source = "s3://" + bucket + "/" + key
		bin = filepath.Join(tmp, "qscanner")
		if err := d.extractLayer(ctx, bucket, key, bin); err != nil {
			r.add(CheckQScannerRuns, Fail, "%v", err)
			return
		}
	}
	machine, err := elfMachine(bin)
	if err != nil {
		r.add(CheckQScannerRuns, Fail, "%s is not a Linux executable", source)
		return
	}
	if ok, why := hostRuns(machine); !ok {
		r.add(CheckQScannerRuns, Skip, "cannot run %s here: %s", source, why)
		return
	}
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, bin, "--help")
	// QScanner needs HOME; it gets a scratch one, and no token.
	cmd.Env = []string{"HOME=" + tmp, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin", "DISABLE_QSCANNER_BANNER=yes"}
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	switch {
	case rctx.Err() == context.DeadlineExceeded:
		r.add(CheckQScannerRuns, Fail, "%s --help did not finish within %s", source, timeout)
	case err != nil:
		r.add(CheckQScannerRuns, Fail, "%s --help: %v: %s", source, err, lastLine(out.String()))
	default:
		r.add(CheckQScannerRuns, Pass, "%s --help: %s", source, firstLine(out.String()))
	}
}

// extractLayer downloads the layer zip and writes its bin/qscanner to dst.
func (d *Deployer) extractLayer(ctx context.Context, bucket, key, dst string) error {
	if bucket == "" {
		return errors.New("the stack has no ArtifactsBucket parameter, and no local QScanner binary was given")
	}
	obj, err := d.c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("download s3://%s/%s: %w", bucket, key, err)
	}
	defer obj.Body.Close()
	zipPath := dst + ".zip"
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, obj.Body); err != nil {
		f.Close()
		return fmt.Errorf("download s3://%s/%s: %w", bucket, key, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("s3://%s/%s is not a zip: %w", bucket, key, err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if zf.Name != LayerEntry {
			continue
		}
		if zf.Mode()&0o111 == 0 {
			return fmt.Errorf("s3://%s/%s: %s is not executable (mode %s)", bucket, key, LayerEntry, zf.Mode())
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, rc); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	return fmt.Errorf("s3://%s/%s has no %s: QScanner would be missing at /opt/%s", bucket, key, LayerEntry, LayerEntry)
}

// tokenVar is the scan function's variable naming its token secret.
const tokenVar = "QUALYS_TOKEN_SECRET_ARN"

// checkToken finds the token the scan function will use and returns it ("" if
// none). The token is never put in the report.
func (d *Deployer) checkToken(ctx context.Context, r *Report, s *Deployed, fns []deployedFunction, in VerifyInput) string {
	secretID, where := in.TokenSecretID, "QUALYS_TOKEN_SECRET_ARN"
	if secretID == "" {
		secretID, where = s.Outputs[paramTokenSecretArn], "stack output "+paramTokenSecretArn
	}
	if secretID == "" {
		for _, f := range fns {
			if v := f.env[tokenVar]; v != "" {
				secretID, where = v, f.spec.HandlerDir+" function's "+tokenVar
			}
		}
	}
	if secretID == "" {
		switch {
		case d.local && in.Token != "":
			return tokenResult(r, in.Token, "QUALYS_ACCESS_TOKEN (moto created no secret)")
		case d.local:
			r.add(CheckToken, Skip, localReason+"; set QUALYS_ACCESS_TOKEN to check a token", "AWS::SecretsManager::Secret")
		default:
			r.add(CheckToken, Fail, "the stack names no token secret (no %s output, no %s on the functions)", paramTokenSecretArn, tokenVar)
		}
		return ""
	}
	src, err := secretstore.NewSecretsManager(d.c.Secrets, secretID, 0)
	if err != nil {
		r.add(CheckToken, Fail, "%v", err)
		return ""
	}
	token, err := src.Token(ctx)
	if err != nil {
		if errors.Is(err, secretstore.ErrNoToken) {
			r.add(CheckToken, Fail, "secret %s (from %s) holds no token: aws secretsmanager put-secret-value --secret-id %s --secret-string <token>", secretID, where, secretID)
			return ""
		}
		r.add(CheckToken, Fail, "secret %s (from %s): %v", secretID, where, err)
		return ""
	}
	return tokenResult(r, token, "secret "+secretID)
}

func tokenResult(r *Report, token, source string) string {
	if exp, ok := tokenExpiry(token); ok {
		if time.Now().After(exp) {
			r.add(CheckToken, Fail, "token in %s expired on %s", source, exp.Format(time.DateOnly))
			return ""
		}
		r.add(CheckToken, Pass, "present in %s (JWT, expires %s)", source, exp.Format(time.DateOnly))
		return token
	}
	r.add(CheckToken, Pass, "present in %s", source)
	return token
}

func (d *Deployer) checkGateway(ctx context.Context, r *Report, s *Deployed, fns []deployedFunction, in VerifyInput, token string) {
	if d.local {
		r.add(CheckGateway, Skip, "needs a Qualys account; AWS_ENDPOINT_URL points at a local AWS")
		return
	}
	if token == "" {
		r.add(CheckGateway, Skip, "no usable token (see %s)", CheckToken)
		return
	}
	gateway := in.GatewayURL
	if gateway == "" {
		for _, f := range fns {
			gateway = cmp.Or(gateway, f.env["QUALYS_GATEWAY_URL"])
		}
	}
	if gateway == "" {
		pod := cmp.Or(in.Pod, s.Params[paramQualysPod])
		g, err := GatewayURL(pod)
		if err != nil {
			r.add(CheckGateway, Fail, "%v", err)
			return
		}
		gateway = g
	}
	client := in.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	res, detail := probeGateway(ctx, client, gateway, token)
	r.add(CheckGateway, res, "%s", redact(detail, token))
}

// evalCondition evaluates a template condition from parameter values. known
// is false when it depends on something not known here (a hidden NoEcho
// value, a pseudo parameter): the caller then makes no claim.
func evalCondition(t *stack.Template, ps Params, name string) (ok, known bool) {
	c, exists := t.Conditions[name]
	if !exists {
		return false, false
	}
	return evalCond(t, ps, c, 0)
}

func evalCond(t *stack.Template, ps Params, v any, depth int) (bool, bool) {
	m, _ := v.(map[string]any)
	if len(m) != 1 || depth > 20 {
		return false, false
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, false
			}
			a, ok1 := condValue(t, ps, args[0])
			b, ok2 := condValue(t, ps, args[1])
			return a == b, ok1 && ok2
		case "Fn::Not":
			if len(args) != 1 {
				return false, false
			}
			ok, known := evalCond(t, ps, args[0], depth+1)
			return !ok, known
		case "Fn::And", "Fn::Or":
			all := fn == "Fn::And"
			for _, a := range args {
				ok, known := evalCond(t, ps, a, depth+1)
				if !known {
					return false, false
				}
				if ok != all {
					return !all, true
				}
			}
			return all, true
		case "Condition":
			name, _ := arg.(string)
			c, exists := t.Conditions[name]
			if !exists {
				return false, false
			}
			return evalCond(t, ps, c, depth+1)
		}
	}
	return false, false
}

func condValue(t *stack.Template, ps Params, v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]any:
		ref, ok := x["Ref"].(string)
		if !ok || len(x) != 1 {
			return "", false
		}
		p, declared := t.Parameters[ref]
		if !declared || p.NoEcho {
			return "", false
		}
		for _, q := range ps {
			if q.Key == ref {
				return q.Value, true
			}
		}
		return p.Default, p.HasDefault
	}
	s := fmt.Sprint(v)
	return s, true
}

func firstFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:n], "; ") + fmt.Sprintf("; and %d more", len(items)-n)
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return oneLine(l, 100)
		}
	}
	return "(no output)"
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return oneLine(lines[len(lines)-1], 160)
}
