package stack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// DescribeAPI is the part of the CloudFormation API that reads a deployed
// stack.
type DescribeAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	ListStackResources(ctx context.Context, in *cloudformation.ListStackResourcesInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// TemplateAPI reads the template a stack runs.
type TemplateAPI interface {
	GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput, optFns ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
}

// Describe reads the stack name fully: identity, status, parameters, outputs
// and resources, with t as its template. It returns an error wrapping
// ErrNotFound when there is no such stack.
func Describe(ctx context.Context, api DescribeAPI, name string, t *Template) (*Deployed, error) {
	s, err := DescribeStatus(ctx, api, name)
	if err != nil {
		return nil, err
	}
	s.Template = t
	if err := s.ListResources(ctx, api); err != nil {
		return nil, err
	}
	return s, nil
}

// DescribeStatus reads what DescribeStacks says of the stack: identity,
// status, parameters and outputs, without resources or template. It is the
// cheap read for deciding whether to create or update. It returns an error
// wrapping ErrNotFound when there is no such stack.
func DescribeStatus(ctx context.Context, api DescribeAPI, name string) (*Deployed, error) {
	out, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		if Missing(err) {
			return nil, fmt.Errorf("stack %s: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 || out.Stacks[0].StackStatus == cfntypes.StackStatusDeleteComplete {
		return nil, fmt.Errorf("stack %s: %w", name, ErrNotFound)
	}
	st := out.Stacks[0]
	s := &Deployed{
		Name:    aws.ToString(st.StackName),
		ID:      aws.ToString(st.StackId),
		Status:  string(st.StackStatus),
		Reason:  aws.ToString(st.StackStatusReason),
		Params:  map[string]string{},
		Outputs: map[string]string{},
	}
	if s.Name == "" {
		s.Name = name
	}
	if err := s.setIdentity(); err != nil {
		return nil, err
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

// ListResources reads the stack's resources, replacing any it holds.
// Entries without a logical ID (moto lists the resources it skipped so) are
// left out.
func (s *Deployed) ListResources(ctx context.Context, api DescribeAPI) error {
	s.Resources = nil
	var next *string
	for {
		out, err := api.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String(s.ID), NextToken: next})
		if err != nil {
			return fmt.Errorf("list resources of stack %s: %w", s.Name, err)
		}
		for _, r := range out.StackResourceSummaries {
			if aws.ToString(r.LogicalResourceId) == "" {
				continue
			}
			s.Resources = append(s.Resources, DeployedResource{
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
	return nil
}

// ReadTemplate sets the stack's template to the one CloudFormation says it
// runs, falling back to the project's own when CloudFormation does not return
// a readable one.
func (s *Deployed) ReadTemplate(ctx context.Context, api TemplateAPI) {
	out, err := api.GetTemplate(ctx, &cloudformation.GetTemplateInput{
		StackName: aws.String(s.ID), TemplateStage: cfntypes.TemplateStageOriginal,
	})
	if err == nil && aws.ToString(out.TemplateBody) != "" {
		raw := []byte(aws.ToString(out.TemplateBody))
		if t, err := Parse(raw); err == nil {
			s.RawTemplate, s.Template = raw, t
			return
		}
	}
	raw := Body()
	t, err := Parse(raw)
	if err != nil {
		// The embedded template is checked by this package's tests.
		panic(fmt.Sprintf("stack: the project's template does not parse: %v", err))
	}
	s.RawTemplate, s.Template = raw, t
}

// Missing reports whether err is CloudFormation's "stack does not exist",
// which it sends as a ValidationError.
func Missing(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist")
}
