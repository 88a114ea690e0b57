package local

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
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

// Deployment is the project's stack as deployed into moto. It is the one
// model of a deployed stack (stack.Deployed), which resolves names,
// evaluates conditions and resolves the functions' environments for the
// local runner, with the parameters it was deployed with (NoEcho ones
// included: the runner needs their values), plus what this package provides
// that moto's CloudFormation skips (Provide).
type Deployment struct {
	*stack.Deployed
	// artifacts is the bucket holding the placeholder function code.
	artifacts string
}

// DeployOptions says how to deploy.
type DeployOptions struct {
	StackName string
	// Params override the template's defaults.
	Params map[string]string
	// Body is the template to send; empty means the project's template as
	// MotoTemplate renders it.
	Body []byte
	// DropAction, when set, removes one action from one role before the
	// project's template is rendered (see DropAction).
	DropAction string
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
	if opts.DropAction != "" {
		if tmpl, err = DropAction(tmpl, opts.DropAction); err != nil {
			return nil, err
		}
	}
	artifacts := strings.ToLower(opts.StackName) + "-artifacts"
	params := deployParams(tmpl, artifacts, opts.Params)
	if err := uploadPlaceholders(ctx, s3.NewFromConfig(cfg, awsconfig.S3Options(cfg)), tmpl, artifacts, params["ArtifactsPrefix"]); err != nil {
		return nil, err
	}
	body := opts.Body
	if len(body) == 0 {
		if body, err = MotoTemplate(tmpl); err != nil {
			return nil, err
		}
	}
	cf := cloudformation.NewFromConfig(cfg)
	if err := createStack(ctx, cf, opts.StackName, body, tmpl, params); err != nil {
		return nil, err
	}
	if err := waitForStack(ctx, cf, opts.StackName); err != nil {
		return nil, err
	}
	s, err := stack.Describe(ctx, cf, opts.StackName, tmpl)
	if err != nil {
		return nil, err
	}
	// The values it was deployed with, NoEcho ones too, rather than what
	// DescribeStacks shows of them.
	s.Params = params
	// moto leaves some physical IDs empty; record those the model can tell
	// (an event bus's Ref is its name), so PhysicalID shows them too.
	for id, r := range tmpl.Resources {
		if s.PhysicalID(id) == "" && r.Type == "AWS::Events::EventBus" {
			if name, err := s.Ref(id); err == nil && name != "" {
				s.SetPhysicalID(id, name)
			}
		}
	}
	return &Deployment{Deployed: s, artifacts: artifacts}, nil
}

// deployParams are the template's defaults, the artifacts location and then
// the caller's overrides.
func deployParams(tmpl *stack.Template, artifacts string, overrides map[string]string) map[string]string {
	params := map[string]string{}
	for name, p := range tmpl.Parameters {
		if p.HasDefault {
			params[name] = p.Default
		}
	}
	params["ArtifactsBucket"] = artifacts
	params["ArtifactsPrefix"] = "functions"
	for k, v := range overrides {
		params[k] = v
	}
	return params
}

// createStack sends CreateStack with the parameters the template declares.
func createStack(ctx context.Context, cf *cloudformation.Client, name string, body []byte, tmpl *stack.Template, params map[string]string) error {
	var cfnParams []cfntypes.Parameter
	for k, v := range params {
		if _, declared := tmpl.Parameters[k]; declared {
			cfnParams = append(cfnParams, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
		}
	}
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(name),
		TemplateBody: aws.String(string(body)),
		Parameters:   cfnParams,
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam},
	}); err != nil {
		return fmt.Errorf("create stack %s: %w", name, err)
	}
	return nil
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

// uploadPlaceholders creates the artifacts bucket and puts a placeholder
// zip where each function's code and the QScanner layer are expected.
func uploadPlaceholders(ctx context.Context, client *s3.Client, tmpl *stack.Template, bucket, prefix string) error {
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create artifacts bucket: %w", err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bootstrap")
	_, _ = w.Write([]byte("#!/bin/sh\necho 'placeholder: the local runner runs the real binaries'\n"))
	_ = zw.Close()
	keys := []string{"qscanner-layer"}
	for _, f := range tmpl.Functions() {
		keys = append(keys, f.HandlerDir)
	}
	for _, k := range keys {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(prefix + "/" + k + ".zip"), Body: bytes.NewReader(buf.Bytes()),
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
		if _, listed := d.Resource(id); listed || r.Type != "AWS::SecretsManager::Secret" || !d.Created(id) {
			continue
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
		d.SetPhysicalID(id, aws.ToString(out.ARN))
	}
	return nil
}
