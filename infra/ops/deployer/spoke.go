package deployer

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"ecrscanner/infra/ops/stack"
)

// SpokeOptions are the parameters of one spoke stack (spoke.yaml), deployed
// in a member account and region of the organization a hub serves.
type SpokeOptions struct {
	// StackName defaults to "<HubStackName>-spoke".
	StackName    string
	HubAccount   string
	HubRegion    string
	HubStackName string // default qualys-ecr-scanner
	// HubEventBus defaults to "<HubStackName>-ingress", the hub's IngressBus.
	HubEventBus string
	// RoleName defaults to the template's (the hub's SpokeRoleName default).
	RoleName string
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

func (o *SpokeOptions) normalize() error {
	if o.HubStackName == "" {
		o.HubStackName = "qualys-ecr-scanner"
	}
	if o.StackName == "" {
		o.StackName = o.HubStackName + "-spoke"
	}
	if o.HubEventBus == "" {
		o.HubEventBus = o.HubStackName + "-ingress"
	}
	var errs []error
	if !accountRE.MatchString(o.HubAccount) {
		errs = append(errs, fmt.Errorf("hub account %q: want the hub's 12-digit account ID", o.HubAccount))
	}
	if o.HubRegion == "" {
		errs = append(errs, errors.New("no hub region"))
	}
	return errors.Join(errs...)
}

func (o SpokeOptions) parameters() []cfntypes.Parameter {
	p := []cfntypes.Parameter{
		{ParameterKey: aws.String("HubAccountId"), ParameterValue: aws.String(o.HubAccount)},
		{ParameterKey: aws.String("HubRegion"), ParameterValue: aws.String(o.HubRegion)},
		{ParameterKey: aws.String("HubStackName"), ParameterValue: aws.String(o.HubStackName)},
		{ParameterKey: aws.String("HubEventBusName"), ParameterValue: aws.String(o.HubEventBus)},
	}
	if o.RoleName != "" {
		p = append(p, cfntypes.Parameter{ParameterKey: aws.String("SpokeRoleName"), ParameterValue: aws.String(o.RoleName)})
	}
	return p
}

// DeploySpoke creates or updates the spoke stack in the clients' account and
// region, printing its events, and returns its outputs. The template goes as
// a body (it is far below CloudFormation's 51,200-byte limit for one), so
// no artifacts bucket is needed in member accounts.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
func (d *Deployer) DeploySpoke(ctx context.Context, o SpokeOptions) (map[string]string, error) {
	if err := o.normalize(); err != nil {
		return nil, fmt.Errorf("deploy spoke: %w", err)
	}
	// CAPABILITY_NAMED_IAM: the spoke role has a fixed name the hub assumes.
	caps := []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}
	d.say("==> Spoke stack %s in %s: forwarding to hub %s in %s", o.StackName, d.reg, o.HubAccount, o.HubRegion)
	stackID, marker := o.StackName, ""
	_, err := d.c.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(o.StackName)})
	switch {
	case stack.Missing(err):
		var out *cloudformation.CreateStackOutput
		out, err = d.c.CloudFormation.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName: aws.String(o.StackName), TemplateBody: aws.String(string(stack.SpokeBody())),
			Parameters: o.parameters(), Capabilities: caps, ClientRequestToken: aws.String(requestToken()),
		})
		if err == nil {
			stackID = aws.ToString(out.StackId)
		}
	case err == nil:
		if marker, err = d.newestEvent(ctx, stackID); err != nil {
			return nil, err
		}
		_, err = d.c.CloudFormation.UpdateStack(ctx, &cloudformation.UpdateStackInput{
			StackName: aws.String(o.StackName), TemplateBody: aws.String(string(stack.SpokeBody())),
			Parameters: o.parameters(), Capabilities: caps, ClientRequestToken: aws.String(requestToken()),
		})
		if noUpdates(err) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("deploy spoke stack %s: %w", o.StackName, err)
	}
	st, err := d.waitStack(ctx, stackID, marker)
	if err != nil {
		return nil, err
	}
	switch st.StackStatus {
	case cfntypes.StackStatusCreateComplete, cfntypes.StackStatusUpdateComplete:
	default:
		return nil, fmt.Errorf("spoke stack %s ended %s: %s", o.StackName, st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := map[string]string{}
	for _, op := range st.Outputs {
		out[aws.ToString(op.OutputKey)] = aws.ToString(op.OutputValue)
		d.say("    %s = %s", aws.ToString(op.OutputKey), aws.ToString(op.OutputValue))
	}
	return out, nil
}
