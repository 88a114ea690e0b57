package motoserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const testAccount = "123456789012"

// roleTemplate is a Lambda-trusted role allowed to list queues and, naming
// an ARN as least-privilege policies do, to list tables.
const roleTemplate = `{"Resources":{"Role":{"Type":"AWS::IAM::Role","Properties":{
 "RoleName":"iam-test-role",
 "AssumeRolePolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]},
 "Policies":[{"PolicyName":"p","PolicyDocument":{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"sqs:ListQueues","Resource":"*"},
  {"Effect":"Allow","Action":"sqs:DeleteMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:q"},
  {"Effect":"Allow","Action":"dynamodb:ListTables","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/*"}]}}]}}}}`

func cfgWith(m *Moto, id, secret, token string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(m.Endpoint()), Credentials: credentials.NewStaticCredentialsProvider(id, secret, token)}
}

// TestEnforceIAM: after EnforceIAM moto refuses unsigned requests and
// unknown keys, lets the admin do anything, and holds a role's credentials
// to its policy's actions.
func TestEnforceIAM(t *testing.T) {
	m := startOrSkip(t)
	ctx := context.Background()
	admin, err := m.CreateAdmin(ctx, testAccount, "harness")
	if err != nil {
		t.Fatal(err)
	}
	adminCfg := cfgWith(m, admin.AccessKeyID, admin.SecretAccessKey, "")
	cf := cloudformation.NewFromConfig(adminCfg)
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("iam"), TemplateBody: aws.String(roleTemplate), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}}); err != nil {
		t.Fatal(err)
	}
	if err := m.EnforceIAM(ctx); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Post(m.Endpoint()+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=ListQueues"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.Errorf("unsigned request: %s, want refused", resp.Status)
	}
	if _, err := sqs.NewFromConfig(cfgWith(m, "testing", "testing", "")).ListQueues(ctx, &sqs.ListQueuesInput{}); err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Errorf("unknown key: %v, want InvalidClientTokenId", err)
	}
	if _, err := sqs.NewFromConfig(adminCfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")}); err != nil {
		t.Errorf("admin: %v", err)
	}

	roleARN := "arn:aws:iam::" + testAccount + ":role/iam-test-role"
	c, err := m.AssumeRoleAs(ctx, "lambda.amazonaws.com", roleARN, "fn", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if until := time.Until(c.Expires); until < 50*time.Minute || until > time.Hour+time.Minute {
		t.Errorf("credentials expire in %v, want about an hour", until)
	}
	role := cfgWith(m, c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	if _, err := sqs.NewFromConfig(role).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Errorf("role, allowed action: %v\n%s", err, m.Output())
	}
	// The statement names a table ARN; moto does not know the resource of a
	// DynamoDB request, and the patch lets the action decide.
	if _, err := dynamodb.NewFromConfig(role).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Errorf("role, allowed action on a named resource: %v", err)
	}
	// Allowed sqs:DeleteMessage, the role may delete in batches (SQS
	// authorizes batch operations by their single-message actions).
	q, err := sqs.NewFromConfig(adminCfg).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("q")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqs.NewFromConfig(role).DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q.QueueUrl, Entries: []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("0"), ReceiptHandle: aws.String("none")}}}); err != nil {
		t.Errorf("role, batch version of an allowed action: %v", err)
	}
	if _, err := sqs.NewFromConfig(role).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("r")}); err == nil || !strings.Contains(err.Error(), "not authorized to perform: sqs:CreateQueue") {
		t.Errorf("role, action not in its policy: %v, want AccessDenied naming sqs:CreateQueue", err)
	}
}

func TestAssumeRoleAsRefusals(t *testing.T) {
	m := startOrSkip(t)
	ctx := context.Background()
	admin, err := m.CreateAdmin(ctx, testAccount, "harness")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateAdmin(ctx, testAccount, "harness"); err == nil || !strings.Contains(err.Error(), "create admin user harness") || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second admin of one name: %v", err)
	}
	cf := cloudformation.NewFromConfig(cfgWith(m, admin.AccessKeyID, admin.SecretAccessKey, ""))
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("iam"), TemplateBody: aws.String(roleTemplate), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}}); err != nil {
		t.Fatal(err)
	}
	roleARN := "arn:aws:iam::" + testAccount + ":role/iam-test-role"
	if _, err := m.AssumeRoleAs(ctx, "pipes.amazonaws.com", roleARN, "p", time.Hour); err == nil || !strings.Contains(err.Error(), "does not allow pipes.amazonaws.com") {
		t.Errorf("service the trust policy does not name: %v", err)
	}
	if _, err := m.AssumeRoleAs(ctx, "lambda.amazonaws.com", roleARN, "p", 2*time.Hour); err == nil || !strings.Contains(err.Error(), "exceeds the MaxSessionDuration (3600s)") {
		t.Errorf("longer than the role allows: %v", err)
	}
	if err := m.Authorize(ctx, roleARN, "sqs:DeleteMessage", "arn:aws:sqs:us-east-1:123456789012:q"); err != nil {
		t.Errorf("Authorize, allowed: %v", err)
	}
	if err := m.Authorize(ctx, roleARN, "sqs:DeleteMessage", "arn:aws:sqs:us-east-1:123456789012:other"); err == nil || !strings.Contains(err.Error(), "AccessDenied: "+roleARN+" is not authorized to perform: sqs:DeleteMessage on resource: arn:aws:sqs:us-east-1:123456789012:other") {
		t.Errorf("Authorize, another resource: %v", err)
	}
	if err := m.Authorize(ctx, roleARN+"-missing", "sqs:DeleteMessage", "*"); err == nil || !strings.Contains(err.Error(), "NoSuchEntity") {
		t.Errorf("Authorize, missing role: %v", err)
	}
	if _, err := m.AssumeRoleAs(ctx, "lambda.amazonaws.com", roleARN+"-missing", "p", time.Hour); err == nil || !strings.Contains(err.Error(), "NoSuchEntity") {
		t.Errorf("missing role: %v", err)
	}
}

// TestIAMControlErrors: what a server that is not the wrapper answers ends
// up in the error, and nothing of a successful answer does.
func TestIAMControlErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>Internal Server Error</html>", http.StatusInternalServerError)
	}))
	defer srv.Close()
	m := &Moto{endpoint: srv.URL}
	ctx := context.Background()
	if err := m.EnforceIAM(ctx); err == nil || !strings.Contains(err.Error(), "enforce IAM in moto: 500") {
		t.Errorf("EnforceIAM: %v", err)
	}
	if _, err := m.CreateAdmin(ctx, testAccount, "a"); err == nil || !strings.Contains(err.Error(), "create admin user a: 500 Internal Server Error: <html>") {
		t.Errorf("CreateAdmin: %v", err)
	}
	if _, err := m.AssumeRoleAs(ctx, "lambda.amazonaws.com", "arn:aws:iam::1:role/r", "s", time.Hour); err == nil || !strings.Contains(err.Error(), "assume arn:aws:iam::1:role/r as lambda.amazonaws.com: 500") {
		t.Errorf("AssumeRoleAs: %v", err)
	}
	srv.Close()
	if err := m.EnforceIAM(ctx); err == nil || !strings.Contains(err.Error(), "enforce IAM in moto") {
		t.Errorf("EnforceIAM, server gone: %v", err)
	}
}
