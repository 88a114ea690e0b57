package conformance_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"ecrscanner/infra/ops/conformance"
)

// The checks themselves: requests that break a model rule or a documented
// limit are reported, each naming what is wrong.
func TestCheckerReportsViolations(t *testing.T) {
	jsonReq := func(service, target string, body any) conformance.Request {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		return conformance.Request{Service: service, Method: "POST", Path: "/", Headers: map[string]string{"X-Amz-Target": target}, Body: b}
	}
	tests := []struct {
		name      string
		req       conformance.Request
		model     string // in validate.py's errors
		limit     string // in Limits' problems
		operation string
	}{
		{
			// The ECR model bounds no tag: the documented limit does.
			name: "ECR tag key over 128",
			req: jsonReq("ecr", "AmazonEC2ContainerRegistry_V20150921.TagResource", map[string]any{
				"resourceArn": "arn:aws:ecr:us-east-1:123456789012:repository/a", "tags": []map[string]string{{"Key": strings.Repeat("k", 129), "Value": "v"}},
			}),
			limit: "over 128/256", operation: "TagResource",
		},
		{
			name: "an ECR repository name over 256 and a tag over 300",
			req: jsonReq("ecr", "AmazonEC2ContainerRegistry_V20150921.DescribeImages", map[string]any{
				"repositoryName": strings.Repeat("a", 257), "imageIds": []map[string]string{{"imageTag": strings.Repeat("t", 301)}},
			}),
			model: "over the model's max 256", operation: "DescribeImages",
		},
		{
			name: "a finding without Resources",
			req: conformance.Request{Service: "securityhub", Method: "POST", Path: "/findings/import",
				Body: []byte(`{"Findings":[{"AwsAccountId":"123456789012","CreatedAt":"2026-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","Description":"d","GeneratorId":"g","Id":"i","ProductArn":"p","SchemaVersion":"2018-10-08","Title":"` + strings.Repeat("t", 257) + `","ProductFields":{"aws/securityhub/FindingId":"x"}}]}`)},
			model: "Missing required parameter", limit: "reserved for AWS", operation: "BatchImportFindings",
		},
		{
			name: "an SNS subject with a line break and no message",
			req: conformance.Request{Service: "sns", Method: "POST", Path: "/",
				Body: []byte("Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At&Subject=two%0Alines")},
			model: `Missing required parameter in input: "Message"`, limit: "not printable ASCII", operation: "Publish",
		},
		{
			name: "a DynamoDB item over 400 KB",
			req: jsonReq("dynamodb", "DynamoDB_20120810.PutItem", map[string]any{
				"TableName": "t", "Item": map[string]any{"digest": map[string]string{"S": strings.Repeat("x", 410*1024)}},
			}),
			limit: "over 409600", operation: "PutItem",
		},
		{
			name:  "an S3 key over 1024 bytes",
			req:   conformance.Request{Service: "s3", Method: "PUT", Path: "/bucket/" + strings.Repeat("é", 513), Query: "x-id=PutObject", Body: []byte("b")},
			limit: "over 1024", operation: "PutObject",
		},
	}
	reqs := make([]conformance.Request, len(tests))
	for i, tt := range tests {
		reqs[i] = tt.req
	}
	results, err := conformance.Validate(reqs)
	if errors.Is(err, conformance.ErrNoPython) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := results[i]
			if r.Operation != tt.operation {
				t.Errorf("operation %q, want %q", r.Operation, tt.operation)
			}
			if tt.model != "" && !strings.Contains(strings.Join(r.Errors, "\n"), tt.model) {
				t.Errorf("model errors %q do not say %q", r.Errors, tt.model)
			}
			if tt.model == "" && len(r.Errors) > 0 {
				t.Errorf("model errors %q for a request the model allows", r.Errors)
			}
			if problems := conformance.Limits(tt.req); tt.limit != "" && !strings.Contains(strings.Join(problems, "\n"), tt.limit) {
				t.Errorf("limit problems %q do not say %q", problems, tt.limit)
			}
		})
	}
}
