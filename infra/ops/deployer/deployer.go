// Package deployer puts the project's CloudFormation stack into an AWS
// account and looks after it: it builds and packages the functions and the
// QScanner layer, uploads them with the template, creates or updates the
// stack while showing its events, replaces function code, tails the logs,
// reports status, verifies a deployment end to end and deletes the stack.
//
// The operator CLI (handlers/ecrscan) is a thin layer over it; the Makefile's
// deploy, update, logs, status, verify and destroy targets call that CLI.
// Every AWS call goes through the small interfaces below, so the same code
// runs against AWS and against moto (AWS_ENDPOINT_URL).
package deployer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/pipes"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/stack"
)

// DefaultStackName is the stack name when STACK_NAME is not set, as in the
// seed's Makefile.
const DefaultStackName = "qualys-ecr-scanner"

// CloudFormationAPI is the part of the CloudFormation client the deployer uses.
type CloudFormationAPI interface {
	CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error)
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
	ListStackResources(ctx context.Context, in *cloudformation.ListStackResourcesInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
	GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput, optFns ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
}

// S3API is the part of the S3 client the deployer uses: the artifacts bucket,
// and emptying buckets before the stack is deleted.
type S3API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, optFns ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, optFns ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error)
	PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	PutBucketPolicy(ctx context.Context, in *s3.PutBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
	PutBucketTagging(ctx context.Context, in *s3.PutBucketTaggingInput, optFns ...func(*s3.Options)) (*s3.PutBucketTaggingOutput, error)
	GetBucketTagging(ctx context.Context, in *s3.GetBucketTaggingInput, optFns ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	DeleteBucket(ctx context.Context, in *s3.DeleteBucketInput, optFns ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

// LambdaAPI is the part of the Lambda client the deployer uses.
type LambdaAPI interface {
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	UpdateFunctionCode(ctx context.Context, in *lambda.UpdateFunctionCodeInput, optFns ...func(*lambda.Options)) (*lambda.UpdateFunctionCodeOutput, error)
	GetLayerVersion(ctx context.Context, in *lambda.GetLayerVersionInput, optFns ...func(*lambda.Options)) (*lambda.GetLayerVersionOutput, error)
	GetEventSourceMapping(ctx context.Context, in *lambda.GetEventSourceMappingInput, optFns ...func(*lambda.Options)) (*lambda.GetEventSourceMappingOutput, error)
}

// LogsAPI is the part of the CloudWatch Logs client the deployer uses.
type LogsAPI interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// PipesAPI is the part of the EventBridge Pipes client the deployer uses.
type PipesAPI interface {
	DescribePipe(ctx context.Context, in *pipes.DescribePipeInput, optFns ...func(*pipes.Options)) (*pipes.DescribePipeOutput, error)
}

// EventsAPI is the part of the EventBridge client the deployer uses.
type EventsAPI interface {
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
}

// SecretsAPI is the part of the Secrets Manager client the deployer uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// IdentityAPI tells which account the credentials belong to.
type IdentityAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Clients are the AWS clients a Deployer calls.
type Clients struct {
	CloudFormation CloudFormationAPI
	S3             S3API
	Lambda         LambdaAPI
	Logs           LogsAPI
	Pipes          PipesAPI
	Events         EventsAPI
	Secrets        SecretsAPI
	Identity       IdentityAPI
}

// NewClients builds every client from one aws.Config. When the endpoint is
// overridden (moto), S3 uses path-style addressing and Lambda responses get
// moto's type quirks fixed (see motoLambdaFix).
func NewClients(cfg aws.Config) Clients {
	var lambdaOpts []func(*lambda.Options)
	if cfg.BaseEndpoint != nil {
		lambdaOpts = append(lambdaOpts, motoLambdaFix)
	}
	return Clients{
		CloudFormation: cloudformation.NewFromConfig(cfg),
		S3: s3.NewFromConfig(cfg, awsconfig.S3Options(cfg), func(o *s3.Options) {
			// Objects uploaded without a checksum (moto's, older ones) are
			// fine; the SDK would log a line for each download.
			o.DisableLogOutputChecksumValidationSkipped = true
		}),
		Lambda:   lambda.NewFromConfig(cfg, lambdaOpts...),
		Logs:     cloudwatchlogs.NewFromConfig(cfg),
		Pipes:    pipes.NewFromConfig(cfg),
		Events:   eventbridge.NewFromConfig(cfg),
		Secrets:  secretsmanager.NewFromConfig(cfg),
		Identity: sts.NewFromConfig(cfg),
	}
}

// Options configure a Deployer.
type Options struct {
	// Region is the AWS region of the clients; it names the artifacts bucket
	// and the template URL.
	Region string
	// Out receives progress and results meant for a person. Nil discards them.
	Out io.Writer
	// PollInterval is how often stack events, function updates and logs are
	// polled. Zero means five seconds.
	PollInterval time.Duration
	// Local says the clients talk to a local emulator (moto, through
	// AWS_ENDPOINT_URL): checks that need AWS itself or the Qualys platform
	// are skipped with the reason instead of failing.
	Local bool
}

// Deployer deploys and operates one project stack at a time. It is not safe
// for concurrent use.
type Deployer struct {
	c     Clients
	out   io.Writer
	poll  time.Duration
	reg   string
	local bool
}

// New returns a Deployer. Every client must be set.
func New(c Clients, opts Options) (*Deployer, error) {
	var missing []string
	for _, x := range []struct {
		name string
		nil  bool
	}{
		{"CloudFormation", c.CloudFormation == nil}, {"S3", c.S3 == nil}, {"Lambda", c.Lambda == nil},
		{"Logs", c.Logs == nil}, {"Pipes", c.Pipes == nil}, {"Events", c.Events == nil},
		{"Secrets", c.Secrets == nil}, {"Identity", c.Identity == nil},
	} {
		if x.nil {
			missing = append(missing, x.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("deployer: nil clients: %s", strings.Join(missing, ", "))
	}
	if opts.Region == "" {
		return nil, errors.New("deployer: no region")
	}
	d := &Deployer{c: c, out: opts.Out, poll: opts.PollInterval, reg: opts.Region, local: opts.Local}
	if d.out == nil {
		d.out = io.Discard
	}
	if d.poll <= 0 {
		d.poll = 5 * time.Second
	}
	return d, nil
}

func (d *Deployer) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// sleep waits one poll interval, or until ctx ends.
func (d *Deployer) sleep(ctx context.Context) error {
	t := time.NewTimer(d.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrStackNotFound is returned when the named stack does not exist.
var ErrStackNotFound = errors.New("stack does not exist")

// Resource is one resource of a deployed stack.
type Resource struct {
	LogicalID  string
	Type       string
	PhysicalID string
	Status     string
	Reason     string
}

// Deployed is a stack as CloudFormation describes it, with the template it
// was deployed from.
type Deployed struct {
	Name        string
	ID          string
	Status      string
	Reason      string
	LastUpdated time.Time
	// Params holds the parameter values; NoEcho ones read "****".
	Params    map[string]string
	Outputs   map[string]string
	Resources []Resource
	// Template is the template the stack runs, or the project's template when
	// CloudFormation would not return it.
	Template *stack.Template
	// RawTemplate is the template text Template was parsed from.
	RawTemplate []byte
}

// Resource returns the deployed resource with the logical ID, if the stack
// has it.
func (s *Deployed) Resource(logicalID string) (Resource, bool) {
	for _, r := range s.Resources {
		if r.LogicalID == logicalID {
			return r, true
		}
	}
	return Resource{}, false
}

// Required reports whether the stack should have the template resource
// logicalID: it has no condition, or its condition holds for the deployed
// parameters. A condition that cannot be evaluated here counts as not
// required, so checks make no claim about the resource.
func (s *Deployed) Required(logicalID string) bool {
	r, ok := s.Template.Resources[logicalID]
	if !ok {
		return false
	}
	if r.Condition == "" {
		return true
	}
	holds, known := evalCondition(s.Template, paramsOf(s.Params), r.Condition)
	return holds && known
}

// describeStack reads a stack's status, parameters and outputs. It returns
// an error wrapping ErrStackNotFound when there is no such stack.
func (d *Deployer) describeStack(ctx context.Context, name string) (*Deployed, error) {
	out, err := d.c.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		if stackMissing(err) {
			return nil, fmt.Errorf("stack %s: %w", name, ErrStackNotFound)
		}
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("stack %s: %w", name, ErrStackNotFound)
	}
	st := out.Stacks[0]
	if st.StackStatus == cfntypes.StackStatusDeleteComplete {
		return nil, fmt.Errorf("stack %s: %w", name, ErrStackNotFound)
	}
	s := &Deployed{
		Name:    aws.ToString(st.StackName),
		ID:      aws.ToString(st.StackId),
		Status:  string(st.StackStatus),
		Reason:  aws.ToString(st.StackStatusReason),
		Params:  map[string]string{},
		Outputs: map[string]string{},
	}
	if st.LastUpdatedTime != nil {
		s.LastUpdated = *st.LastUpdatedTime
	} else if st.CreationTime != nil {
		s.LastUpdated = *st.CreationTime
	}
	for _, p := range st.Parameters {
		s.Params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, o := range st.Outputs {
		s.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return s, nil
}

// inspect describes the stack fully: status, parameters, outputs, resources
// and template.
func (d *Deployer) inspect(ctx context.Context, name string) (*Deployed, error) {
	s, err := d.describeStack(ctx, name)
	if err != nil {
		return nil, err
	}
	var next *string
	for {
		out, err := d.c.CloudFormation.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String(s.ID), NextToken: next})
		if err != nil {
			return nil, fmt.Errorf("list resources of stack %s: %w", name, err)
		}
		for _, r := range out.StackResourceSummaries {
			// moto lists the resources it skipped with empty IDs.
			if aws.ToString(r.LogicalResourceId) == "" {
				continue
			}
			s.Resources = append(s.Resources, Resource{
				LogicalID:  aws.ToString(r.LogicalResourceId),
				Type:       aws.ToString(r.ResourceType),
				PhysicalID: aws.ToString(r.PhysicalResourceId),
				Status:     string(r.ResourceStatus),
				Reason:     aws.ToString(r.ResourceStatusReason),
			})
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	sort.Slice(s.Resources, func(i, j int) bool { return s.Resources[i].LogicalID < s.Resources[j].LogicalID })
	s.RawTemplate, s.Template = d.deployedTemplate(ctx, s.ID)
	return s, nil
}

// deployedTemplate returns the template the stack was deployed from, falling
// back to the project's own when CloudFormation does not return a readable
// one.
func (d *Deployer) deployedTemplate(ctx context.Context, stackID string) ([]byte, *stack.Template) {
	out, err := d.c.CloudFormation.GetTemplate(ctx, &cloudformation.GetTemplateInput{
		StackName: aws.String(stackID), TemplateStage: cfntypes.TemplateStageOriginal,
	})
	if err == nil && aws.ToString(out.TemplateBody) != "" {
		raw := []byte(aws.ToString(out.TemplateBody))
		if t, err := stack.Parse(raw); err == nil {
			return raw, t
		}
	}
	raw := stack.Body()
	t, err := stack.Parse(raw)
	if err != nil {
		// The embedded template is checked by infra/stack's tests.
		panic(fmt.Sprintf("deployer: the project's template does not parse: %v", err))
	}
	return raw, t
}

// stackMissing reports whether err is CloudFormation's "stack does not
// exist", which it sends as a ValidationError.
func stackMissing(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist")
}

// notFound reports whether err says the thing asked for does not exist, in
// any of the ways the services used here say it.
func notFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "NoSuchBucket", "NoSuchTagSet", "ResourceNotFoundException", "NotFoundException":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

// httpStatus returns the HTTP status of a failed AWS call, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
