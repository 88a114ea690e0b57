package stack

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// deployedFrom is a stack deployed from the project's template with params,
// in aws/us-east-1/123456789012, with the given physical IDs.
func deployedFrom(t *testing.T, params map[string]string, physical map[string]string) *Deployed {
	t.Helper()
	tmpl, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	s := &Deployed{Name: "demo", ID: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/uuid", Params: params, Template: tmpl}
	if err := s.setIdentity(); err != nil {
		t.Fatal(err)
	}
	for id, p := range physical {
		s.SetPhysicalID(id, p)
	}
	return s
}

func TestConditionOnTheTemplate(t *testing.T) {
	tests := []struct {
		name      string
		params    map[string]string
		condition string
		ok, known bool
	}{
		{"token secret created by default", map[string]string{"QualysTokenSecretArn": ""}, "CreateTokenSecret", true, true},
		{"existing secret given", map[string]string{"QualysTokenSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x"}, "CreateTokenSecret", false, true},
		{"ECR event trigger", map[string]string{"ScanTrigger": "ecr-event"}, "UseEcrEventTrigger", true, true},
		{"CloudTrail trigger off", map[string]string{"ScanTrigger": "ecr-event"}, "UseCloudTrailTrigger", false, true},
		{"alert email set", map[string]string{"AlertEmail": "a@b.example"}, "HasAlertEmail", true, true},
		{"hidden NoEcho value is unknown", map[string]string{"QualysAccessToken": MaskedValue}, "HasQualysAccessToken", false, false},
		{"NoEcho value known locally", map[string]string{"QualysAccessToken": "t0ken"}, "HasQualysAccessToken", true, true},
		{"no such condition", nil, "Nope", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := deployedFrom(t, tt.params, nil).Condition(tt.condition)
			if ok != tt.ok || (err == nil) != tt.known {
				t.Errorf("got (%v, %v), want (%v, known %v)", ok, err, tt.ok, tt.known)
			}
		})
	}
}

func TestCreated(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		id     string
		want   bool
	}{
		{"unconditional resource", nil, "ArchiveFunction", true},
		{"condition holds", map[string]string{"EnableSecurityHub": "true"}, "SecurityHubFunction", true},
		{"condition false", map[string]string{"EnableSecurityHub": "false"}, "SecurityHubFunction", false},
		{"condition on a masked value", map[string]string{"QualysAccessToken": MaskedValue}, "TokenOnly", false},
		{"condition on a value known locally", map[string]string{"QualysAccessToken": "t0ken"}, "TokenOnly", true},
		{"not in the template", nil, "Nope", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := deployedFrom(t, tt.params, nil)
			s.Template.Resources["TokenOnly"] = Resource{Type: "AWS::SNS::Topic", Condition: "HasQualysAccessToken"}
			if got := s.Created(tt.id); got != tt.want {
				t.Errorf("Created(%s) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	s := deployedFrom(t, map[string]string{"ScanTrigger": "ecr-event", "QualysAccessToken": MaskedValue},
		map[string]string{"ScanQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/demo-scan"})
	s.Template.Resources["Bus"] = Resource{Type: "AWS::Events::EventBus", Properties: map[string]any{"Name": map[string]any{"Fn::Sub": "${AWS::StackName}-bus"}}}
	tests := []struct {
		name    string
		value   any
		want    string
		unknown bool
	}{
		{"literal", "x", "x", false},
		{"number", 30, "30", false},
		{"pseudo parameters", map[string]any{"Fn::Sub": "${AWS::Partition}:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}"}, "aws:us-east-1:123456789012:demo", false},
		{"parameter", map[string]any{"Ref": "ScanTrigger"}, "ecr-event", false},
		{"parameter default", map[string]any{"Ref": "CacheTTLDays"}, "30", false},
		{"masked NoEcho parameter", map[string]any{"Ref": "QualysAccessToken"}, "", true},
		{"resource", map[string]any{"Ref": "ScanQueue"}, "https://sqs.us-east-1.amazonaws.com/123456789012/demo-scan", false},
		{"bus without physical ID reads its Name", map[string]any{"Ref": "Bus"}, "demo-bus", false},
		{"queue ARN", map[string]any{"Fn::GetAtt": []any{"ScanQueue", "Arn"}}, "arn:aws:sqs:us-east-1:123456789012:demo-scan", false},
		{"queue ARN in Sub", map[string]any{"Fn::Sub": "q=${ScanQueue.Arn}"}, "q=arn:aws:sqs:us-east-1:123456789012:demo-scan", false},
		{"Sub literal", map[string]any{"Fn::Sub": "${!Literal}"}, "${Literal}", false},
		{"Join", map[string]any{"Fn::Join": []any{"-", []any{"a", map[string]any{"Ref": "AWS::Region"}}}}, "a-us-east-1", false},
		{"If", map[string]any{"Fn::If": []any{"UseEcrEventTrigger", "yes", "no"}}, "yes", false},
		{"NoValue", map[string]any{"Ref": "AWS::NoValue"}, "", false},
		{"unsupported attribute", map[string]any{"Fn::GetAtt": []any{"ScansTable", "StreamArn"}}, "", true},
		{"unsupported function", map[string]any{"Fn::Base64": "x"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Resolve(tt.value)
			if tt.unknown {
				if !errors.Is(err, ErrUnknown) {
					t.Errorf("got %q, %v; want ErrUnknown", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSetPhysicalIDKeepsResourcesSorted(t *testing.T) {
	s := deployedFrom(t, nil, map[string]string{"B": "b", "A": "a", "C": "c"})
	s.SetPhysicalID("B", "b2")
	var ids []string
	for _, r := range s.Resources {
		ids = append(ids, r.LogicalID+"="+r.PhysicalID)
	}
	if got := ids; len(got) != 3 || got[0] != "A=a" || got[1] != "B=b2" || got[2] != "C=c" {
		t.Errorf("resources %v", got)
	}
	if s.PhysicalID("Z") != "" {
		t.Error("an absent resource has a physical ID")
	}
}

// fakeCloudFormation answers DescribeStacks and ListStackResources from
// fixed values, in pages of one resource.
type fakeCloudFormation struct {
	stacks    []cfntypes.Stack
	err       error
	resources []cfntypes.StackResourceSummary
}

func (f *fakeCloudFormation) DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return &cloudformation.DescribeStacksOutput{Stacks: f.stacks}, f.err
}

func (f *fakeCloudFormation) ListStackResources(_ context.Context, in *cloudformation.ListStackResourcesInput, _ ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error) {
	i := 0
	if in.NextToken != nil {
		i = int(aws.ToString(in.NextToken)[0] - '0')
	}
	out := &cloudformation.ListStackResourcesOutput{StackResourceSummaries: f.resources[i : i+1]}
	if i+1 < len(f.resources) {
		out.NextToken = aws.String(string(rune('0' + i + 1)))
	}
	return out, nil
}

func TestDescribe(t *testing.T) {
	id := "arn:aws-cn:cloudformation:cn-north-1:210987654321:stack/demo/uuid"
	live := &fakeCloudFormation{
		stacks: []cfntypes.Stack{{
			StackName: aws.String("demo"), StackId: aws.String(id), StackStatus: cfntypes.StackStatusCreateComplete,
			Parameters: []cfntypes.Parameter{{ParameterKey: aws.String("ScanTrigger"), ParameterValue: aws.String("cloudtrail")}},
			Outputs:    []cfntypes.Output{{OutputKey: aws.String("BusName"), OutputValue: aws.String("demo-bus")}},
		}},
		resources: []cfntypes.StackResourceSummary{
			{LogicalResourceId: aws.String("ScansTable"), PhysicalResourceId: aws.String("demo-scans"), ResourceType: aws.String("AWS::DynamoDB::Table")},
			{LogicalResourceId: aws.String(""), PhysicalResourceId: aws.String("")},
			{LogicalResourceId: aws.String("AlertTopic"), PhysicalResourceId: aws.String("arn:topic")},
		},
	}
	missing := &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id demo does not exist"}
	tests := []struct {
		name    string
		api     *fakeCloudFormation
		wantErr error
	}{
		{"a deployed stack", live, nil},
		{"no such stack", &fakeCloudFormation{err: missing}, ErrNotFound},
		{"a deleted stack", &fakeCloudFormation{stacks: []cfntypes.Stack{{StackId: aws.String(id), StackStatus: cfntypes.StackStatusDeleteComplete}}}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Describe(context.Background(), tt.api, "demo", nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Partition != "aws-cn" || s.Region != "cn-north-1" || s.Account != "210987654321" || s.Params["ScanTrigger"] != "cloudtrail" || s.Outputs["BusName"] != "demo-bus" {
				t.Errorf("described %+v", s)
			}
			if len(s.Resources) != 2 || s.Resources[0].LogicalID != "AlertTopic" || s.PhysicalID("ScansTable") != "demo-scans" {
				t.Errorf("resources %+v: want both named ones, sorted", s.Resources)
			}
		})
	}
}
