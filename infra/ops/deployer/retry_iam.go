package deployer

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// A stack operation that creates a role and, in the same operation, a Pipe
// that uses it can fail while the role's policy has not yet reached Pipes:
// IAM is eventually consistent ("changes that you make in IAM ... take time
// to become visible from other services",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
// It is reported for Pipes with DynamoDB stream sources as "Cannot access
// stream …" (aws/aws-cdk#31211, hashicorp/terraform-provider-aws#40572).
// The deployer recognises that failure and tries the operation again after
// a pause; any other failure stays a failure.
const (
	iamRetryAttempts = 3
	// iamRetryPolls is the pause before another attempt, in poll intervals
	// (60 s at the default five-second poll).
	iamRetryPolls = 12
)

// iamPropagation matches CloudFormation's reasons for a Pipe that could not
// yet use what its role grants.
var iamPropagation = regexp.MustCompile(`(?i)cannot access (the )?stream|not authorized|access ?denied|does not have (the )?(required )?permission|unable to assume`)

// retryableFailure reads the operation's events (those after marker) and
// returns the failure that caused the rollback, and whether it is a Pipe's
// IAM propagation failure, worth another attempt. The cause is the oldest
// resource failure; the failures after it are CloudFormation cancelling
// the rest.
func (d *Deployer) retryableFailure(ctx context.Context, stackID, marker string) (string, bool, error) {
	// A rollback of a hundred resources writes hundreds of events, newest
	// first: the cause is pages back, so read up to the marker (or the
	// stack's first event), as waitStack does.
	var cause *cfntypes.StackEvent
	var next *string
	for page := 0; page < maxEventPages; page++ {
		out, err := d.c.CloudFormation.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID), NextToken: next})
		if err != nil {
			return "", false, fmt.Errorf("read events of stack %s: %w", stackID, err)
		}
		reached := false
		for i := range out.StackEvents {
			ev := &out.StackEvents[i]
			if aws.ToString(ev.EventId) == marker {
				reached = true
				break
			}
			switch ev.ResourceStatus {
			case cfntypes.ResourceStatusCreateFailed, cfntypes.ResourceStatusUpdateFailed:
				if aws.ToString(ev.LogicalResourceId) != aws.ToString(ev.StackName) {
					cause = ev
				}
			}
		}
		if next = out.NextToken; reached || next == nil {
			break
		}
	}
	if cause == nil {
		return "", false, nil
	}
	what := fmt.Sprintf("%s (%s): %s", aws.ToString(cause.LogicalResourceId), aws.ToString(cause.ResourceType), aws.ToString(cause.ResourceStatusReason))
	return what, aws.ToString(cause.ResourceType) == "AWS::Pipes::Pipe" && iamPropagation.MatchString(aws.ToString(cause.ResourceStatusReason)), nil
}

// withIAMRetry runs op, a stack operation that returns the stack's ID, its
// marker event and its error, again while it fails only because a Pipe could
// not yet use its role. undo readies the stack for another attempt (a failed
// creation is deleted; a rolled-back update needs nothing).
func (d *Deployer) withIAMRetry(ctx context.Context, op func() (stackID, marker string, err error), undo func(stackID string) error) error {
	for attempt := 1; ; attempt++ {
		stackID, marker, err := op()
		if err == nil || stackID == "" || attempt == iamRetryAttempts {
			return err
		}
		cause, retry, rerr := d.retryableFailure(ctx, stackID, marker)
		if rerr != nil || !retry {
			return err
		}
		wait := iamRetryPolls * d.poll
		d.say("==> %s\n    IAM changes take a while to reach EventBridge Pipes; trying again in %s (attempt %d of %d)", cause, wait.Round(time.Second), attempt+1, iamRetryAttempts)
		if err := undo(stackID); err != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
