package stack_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/stack"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// TestTemplateCreatesOnMoto creates the stack on moto, as the local run does,
// and checks that what moto built matches what this package reads from the
// template. moto skips the Pipe, alarms, the secret, subscriptions and
// queue and bucket policies (motoserver.CloudFormationSkips); everything else must build.
func TestTemplateCreatesOnMoto(t *testing.T) {
	cfg := mototest.Config(t)
	ctx := context.Background()
	tpl := load(t)

	artifacts := mototest.UniqueName("artifacts")
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(artifacts)}); err != nil {
		t.Fatalf("create artifacts bucket: %v", err)
	}
	keys := []string{"qscanner-layer"}
	for _, f := range tpl.Functions() {
		keys = append(keys, f.HandlerDir)
	}
	for _, k := range keys {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(artifacts),
			Key:    aws.String("ecr-image-scanner/" + k + ".zip"),
			Body:   bytes.NewReader(bootstrapZip(t)),
		}); err != nil {
			t.Fatalf("upload %s.zip: %v", k, err)
		}
	}

	cfn := cloudformation.NewFromConfig(cfg)
	// Long on purpose: a generated archive name grows with the stack name and
	// archive names are at most 48 characters.
	name := mototest.UniqueName("ecr-image-scanner-template-on-moto")
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(name),
		TemplateBody: aws.String(string(stack.Body())),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		Parameters: []cfntypes.Parameter{
			{ParameterKey: aws.String("ArtifactsBucket"), ParameterValue: aws.String(artifacts)},
		},
	}); err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	// moto creates a stack synchronously within CreateStack.
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil || len(out.Stacks) != 1 {
		t.Fatalf("DescribeStacks: %v (%d stacks)", err, len(out.Stacks))
	}
	st := out.Stacks[0]
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack status %s: %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	outputs := map[string]string{}
	for _, o := range st.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	// Conditions evaluated for the stack's parameters (defaults but
	// ArtifactsBucket): an output whose condition is false is absent.
	params := map[string]string{"ArtifactsBucket": artifacts}
	for k, p := range tpl.Parameters {
		if _, ok := params[k]; !ok && p.HasDefault {
			params[k] = p.Default
		}
	}
	deployed := &stack.Deployed{Template: tpl, Params: params}
	for key, o := range tpl.Outputs {
		if o.Condition != "" {
			if holds, err := deployed.Condition(o.Condition); err == nil && !holds {
				continue
			}
		}
		if outputs[key] == "" && !refersToMotoSkipped(tpl, o.Value) {
			t.Errorf("output %s is missing or empty", key)
		}
	}

	t.Run("queues redrive as the template says", func(t *testing.T) {
		sqsc := sqs.NewFromConfig(cfg)
		for _, q := range tpl.Queues() {
			url := outputs[q.LogicalID+"Url"]
			if url == "" {
				t.Errorf("no output %sUrl", q.LogicalID)
				continue
			}
			attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
				QueueUrl:       aws.String(url),
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
			})
			if err != nil {
				t.Fatalf("GetQueueAttributes %s: %v", q.LogicalID, err)
			}
			redrive := attrs.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)]
			if q.DLQ == "" {
				if redrive != "" {
					t.Errorf("%s has redrive policy %s, the template none", q.LogicalID, redrive)
				}
				continue
			}
			var rp struct {
				MaxReceiveCount json.Number `json:"maxReceiveCount"`
			}
			if err := json.Unmarshal([]byte(redrive), &rp); err != nil {
				t.Fatalf("%s redrive policy %q: %v", q.LogicalID, redrive, err)
			}
			if rp.MaxReceiveCount.String() != strconv.Itoa(q.MaxReceiveCount) {
				t.Errorf("%s maxReceiveCount %s, template %d", q.LogicalID, rp.MaxReceiveCount, q.MaxReceiveCount)
			}
		}
	})

	t.Run("bus rules carry the template's patterns", func(t *testing.T) {
		eb := eventbridge.NewFromConfig(cfg)
		listed, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(outputs["ImageScansBusName"])})
		if err != nil {
			t.Fatalf("ListRules: %v", err)
		}
		deployed := map[string]any{}
		for _, r := range listed.Rules {
			if strings.HasPrefix(aws.ToString(r.Name), "Events-Archive-") {
				continue // the archive's own rule, made by EventBridge
			}
			var p any
			if err := json.Unmarshal([]byte(aws.ToString(r.EventPattern)), &p); err != nil {
				t.Fatalf("rule %s pattern: %v", aws.ToString(r.Name), err)
			}
			deployed[aws.ToString(r.Name)] = p
		}
		rules := tpl.BusRules("ImageScansBus")
		if len(deployed) != len(rules) {
			t.Errorf("bus has %d rules, template %d", len(deployed), len(rules))
		}
		for _, r := range rules {
			var want any
			if err := json.Unmarshal(r.Pattern, &want); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, got := range deployed {
				found = found || reflect.DeepEqual(got, want)
			}
			if !found {
				t.Errorf("no deployed rule has %s's pattern %s", r.LogicalID, r.Pattern)
			}
		}
	})
}

// bootstrapZip is a function package with an empty bootstrap: moto stores
// the code and never runs it.
func bootstrapZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("#!/bin/sh\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// motoSkips are the resource types moto's CloudFormation does not create.
var motoSkips = map[string]bool{
	"AWS::Pipes::Pipe":            true,
	"AWS::CloudWatch::Alarm":      true,
	"AWS::SecretsManager::Secret": true,
	"AWS::SNS::Subscription":      true,
	"AWS::SQS::QueuePolicy":       true,
	"AWS::S3::BucketPolicy":       true,
}

// refersToMotoSkipped reports whether an output's value names a resource
// moto does not create.
func refersToMotoSkipped(tpl *stack.Template, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	for id, r := range tpl.Resources {
		if motoSkips[r.Type] && bytes.Contains(b, []byte(strconv.Quote(id))) {
			return true
		}
	}
	return false
}
