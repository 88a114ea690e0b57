package local

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/stack"
)

// Deployment is the project's stack as deployed into moto: the template, the
// parameters it was deployed with and the physical ID of each resource.
type Deployment struct {
	Name      string
	Region    string
	Account   string
	Template  *stack.Template
	Params    map[string]string
	Physical  map[string]string
	Artifacts string
}

// DeployOptions says how to deploy.
type DeployOptions struct {
	StackName string
	// Params override the template's defaults.
	Params map[string]string
	// Body is the template to send; empty means the project's template as
	// MotoTemplate renders it.
	Body []byte
}

// Deploy creates the stack in moto through its CloudFormation API and waits
// for it. Function code comes from an artifacts bucket, as in `make deploy`;
// moto never runs it, so placeholder zips stand in for the real ones (the
// local runner runs the real binaries itself). Resources moto's
// CloudFormation skips are provided afterwards by Provide.
func Deploy(ctx context.Context, cfg aws.Config, opts DeployOptions) (*Deployment, error) {
	tmpl, err := stack.Load()
	if err != nil {
		return nil, err
	}
	d := &Deployment{Name: opts.StackName, Region: cfg.Region, Account: "123456789012", Template: tmpl, Params: map[string]string{}, Physical: map[string]string{}}
	for name, p := range tmpl.Parameters {
		if p.HasDefault {
			d.Params[name] = p.Default
		}
	}
	d.Artifacts = strings.ToLower(opts.StackName) + "-artifacts"
	d.Params["ArtifactsBucket"] = d.Artifacts
	d.Params["ArtifactsPrefix"] = "functions"
	for k, v := range opts.Params {
		d.Params[k] = v
	}
	if err := d.uploadPlaceholders(ctx, s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))); err != nil {
		return nil, err
	}
	body := opts.Body
	if len(body) == 0 {
		if body, err = MotoTemplate(tmpl); err != nil {
			return nil, err
		}
	}
	cf := cloudformation.NewFromConfig(cfg)
	var params []cfntypes.Parameter
	for k, v := range d.Params {
		if _, declared := tmpl.Parameters[k]; declared {
			params = append(params, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
		}
	}
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(opts.StackName),
		TemplateBody: aws.String(string(body)),
		Parameters:   params,
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam},
	}); err != nil {
		return nil, fmt.Errorf("create stack %s: %w", opts.StackName, err)
	}
	if err := waitForStack(ctx, cf, opts.StackName); err != nil {
		return nil, err
	}
	var next *string
	for {
		out, err := cf.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String(opts.StackName), NextToken: next})
		if err != nil {
			return nil, fmt.Errorf("list stack resources: %w", err)
		}
		for _, r := range out.StackResourceSummaries {
			d.Physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	// moto leaves some physical IDs empty; fill in those CloudFormation
	// defines as a property (an event bus's Ref is its name).
	for id, r := range tmpl.Resources {
		if d.Physical[id] == "" && r.Type == "AWS::Events::EventBus" {
			if name, err := d.Resolve(r.Properties["Name"]); err == nil && name != "" {
				d.Physical[id] = name
			}
		}
	}
	return d, nil
}

func waitForStack(ctx context.Context, cf *cloudformation.Client, name string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describe stack %s: %w", name, err)
		}
		st := out.Stacks[0]
		switch status := string(st.StackStatus); {
		case status == "CREATE_COMPLETE":
			return nil
		case strings.HasSuffix(status, "_IN_PROGRESS"):
			time.Sleep(200 * time.Millisecond)
		default:
			return fmt.Errorf("stack %s: %s: %s", name, status, aws.ToString(st.StackStatusReason))
		}
	}
	return fmt.Errorf("stack %s: not created within two minutes", name)
}

func (d *Deployment) uploadPlaceholders(ctx context.Context, client *s3.Client) error {
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(d.Artifacts)}); err != nil {
		return fmt.Errorf("create artifacts bucket: %w", err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bootstrap")
	_, _ = w.Write([]byte("#!/bin/sh\necho 'placeholder: the local runner runs the real binaries'\n"))
	_ = zw.Close()
	keys := []string{"qscanner-layer"}
	for _, f := range d.Template.Functions() {
		keys = append(keys, f.HandlerDir)
	}
	for _, k := range keys {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(d.Artifacts), Key: aws.String(d.Params["ArtifactsPrefix"] + "/" + k + ".zip"), Body: bytes.NewReader(buf.Bytes()),
		}); err != nil {
			return fmt.Errorf("upload placeholder %s: %w", k, err)
		}
	}
	return nil
}

// Provide creates the resources moto's CloudFormation skips but the
// functions need (today: the token secret), so that every Ref resolves.
func (d *Deployment) Provide(ctx context.Context, cfg aws.Config) error {
	sm := secretsmanager.NewFromConfig(cfg)
	for id, r := range d.Template.Resources {
		if _, ok := d.Physical[id]; ok || r.Type != "AWS::SecretsManager::Secret" {
			continue
		}
		if r.Condition != "" {
			ok, err := d.Condition(r.Condition)
			if err != nil || !ok {
				continue
			}
		}
		value, err := d.Resolve(r.Properties["SecretString"])
		if err != nil {
			return fmt.Errorf("secret %s: %w", id, err)
		}
		in := &secretsmanager.CreateSecretInput{Name: aws.String(d.Name + "-" + id)}
		if value != "" {
			in.SecretString = aws.String(value)
		}
		out, err := sm.CreateSecret(ctx, in)
		if err != nil {
			return fmt.Errorf("create secret %s: %w", id, err)
		}
		d.Physical[id] = aws.ToString(out.ARN)
	}
	return nil
}

// errNoValue is AWS::NoValue: the property is left out.
var errNoValue = errors.New("AWS::NoValue")

// Resolve evaluates a template value for this deployment: literals, Ref (to a
// parameter, a pseudo parameter or a resource), Fn::If, Fn::Sub with plain
// names, Fn::Join, and Fn::GetAtt Arn of queues. Anything else is refused
// with a clear error rather than guessed.
func (d *Deployment) Resolve(v any) (string, error) {
	s, err := d.resolve(v)
	if errors.Is(err, errNoValue) {
		return "", nil
	}
	return s, err
}

func (d *Deployment) resolve(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool, int, int64, float64:
		return fmt.Sprint(v), nil
	case map[string]any:
		if len(v) != 1 {
			return "", fmt.Errorf("cannot resolve %v", v)
		}
		for fn, arg := range v {
			switch fn {
			case "Ref":
				name, _ := arg.(string)
				return d.ref(name)
			case "Fn::If":
				args, _ := arg.([]any)
				if len(args) != 3 {
					return "", fmt.Errorf("Fn::If wants three arguments")
				}
				cond, _ := args[0].(string)
				ok, err := d.Condition(cond)
				if err != nil {
					return "", err
				}
				if ok {
					return d.resolve(args[1])
				}
				return d.resolve(args[2])
			case "Fn::Sub":
				tmpl, _ := arg.(string)
				return d.sub(tmpl)
			case "Fn::Join":
				args, _ := arg.([]any)
				if len(args) != 2 {
					return "", fmt.Errorf("Fn::Join wants two arguments")
				}
				sep, _ := args[0].(string)
				items, _ := args[1].([]any)
				parts := make([]string, len(items))
				for i, it := range items {
					s, err := d.resolve(it)
					if err != nil {
						return "", err
					}
					parts[i] = s
				}
				return strings.Join(parts, sep), nil
			case "Fn::GetAtt":
				args, _ := arg.([]any)
				if len(args) == 2 && args[1] == "Arn" {
					id, _ := args[0].(string)
					if r, ok := d.Template.Resources[id]; ok && r.Type == "AWS::SQS::Queue" {
						url, err := d.ref(id)
						if err != nil {
							return "", err
						}
						return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", d.Region, d.Account, url[strings.LastIndex(url, "/")+1:]), nil
					}
				}
				return "", fmt.Errorf("Fn::GetAtt %v is not supported by the local runner", arg)
			}
			return "", fmt.Errorf("%s is not supported by the local runner", fn)
		}
	}
	return "", fmt.Errorf("cannot resolve %T", v)
}

func (d *Deployment) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return d.Region, nil
	case "AWS::AccountId":
		return d.Account, nil
	case "AWS::StackName":
		return d.Name, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::NoValue":
		return "", errNoValue
	}
	if _, ok := d.Template.Parameters[name]; ok {
		return d.Params[name], nil
	}
	if p, ok := d.Physical[name]; ok {
		return p, nil
	}
	if _, ok := d.Template.Resources[name]; ok {
		return "", fmt.Errorf("resource %s was not created (moto skips its type, or its condition is false)", name)
	}
	return "", fmt.Errorf("unknown name %s", name)
}

func (d *Deployment) sub(tmpl string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.Index(tmpl[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("Fn::Sub: unterminated ${ in %q", tmpl)
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+2 : i+j]
		if strings.Contains(name, ".") {
			return "", fmt.Errorf("Fn::Sub: ${%s} is not supported by the local runner", name)
		}
		v, err := d.ref(name)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		tmpl = tmpl[i+j+1:]
	}
}

// Created reports whether the template creates the resource for this
// deployment's parameters: it has no condition, or its condition holds.
func (d *Deployment) Created(logicalID string) bool {
	r, ok := d.Template.Resources[logicalID]
	if !ok {
		return false
	}
	if r.Condition == "" {
		return true
	}
	ok, err := d.Condition(r.Condition)
	return err == nil && ok
}

// Condition evaluates one of the template's conditions.
func (d *Deployment) Condition(name string) (bool, error) {
	c, ok := d.Template.Conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	return d.cond(c)
}

func (d *Deployment) cond(v any) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("cannot evaluate condition %v", v)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, errors.New("Fn::Equals wants two arguments")
			}
			a, err := d.resolve(args[0])
			if err != nil && !errors.Is(err, errNoValue) {
				return false, err
			}
			b, err := d.resolve(args[1])
			if err != nil && !errors.Is(err, errNoValue) {
				return false, err
			}
			return a == b, nil
		case "Fn::Not":
			if len(args) != 1 {
				return false, errors.New("Fn::Not wants one argument")
			}
			ok, err := d.cond(args[0])
			return !ok, err
		case "Fn::And", "Fn::Or":
			all := fn == "Fn::And"
			for _, a := range args {
				ok, err := d.cond(a)
				if err != nil {
					return false, err
				}
				if ok != all {
					return !all, nil
				}
			}
			return all, nil
		case "Condition":
			name, _ := arg.(string)
			return d.Condition(name)
		}
		return false, fmt.Errorf("condition function %s is not supported by the local runner", fn)
	}
	return false, nil
}

// Environment resolves a function's environment variables, sorted by name
// for stable output.
func (d *Deployment) Environment(f stack.FunctionSpec) (map[string]string, error) {
	env := map[string]string{}
	names := make([]string, 0, len(f.Environment))
	for k := range f.Environment {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []error
	for _, k := range names {
		v, err := d.Resolve(f.Environment[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", f.LogicalID, k, err))
			continue
		}
		env[k] = v
	}
	return env, errors.Join(errs...)
}
