package deployer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"ecrscanner/infra/ops/stack"
)

// requestToken makes a CloudFormation operation idempotent, so the SDK's
// retry of a create, update or delete whose first attempt went through does
// not fail or start a second operation.
func requestToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ecrscan-" + hex.EncodeToString(b[:])
}

// noUpdates reports CloudFormation's refusal of an update that changes
// nothing, which for a deploy means success.
func noUpdates(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "No updates are to be performed")
}

// newestEvent returns the ID of the stack's most recent event, so that
// waiting shows only the events of the operation that follows.
func (d *Deployer) newestEvent(ctx context.Context, stackID string) (string, error) {
	out, err := d.c.CloudFormation.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	if err != nil {
		return "", fmt.Errorf("read events of stack %s: %w", stackID, err)
	}
	if len(out.StackEvents) == 0 {
		return "", nil
	}
	return aws.ToString(out.StackEvents[0].EventId), nil
}

// maxEventPages bounds how far back one poll reads the event history.
const maxEventPages = 20

// waitStack polls the stack until no operation is in progress, printing its
// new events (those after marker, oldest first) as they come, and returns
// its final description. A stack that disappears during a deletion reads as
// DELETE_COMPLETE.
func (d *Deployer) waitStack(ctx context.Context, stackID, marker string) (cfntypes.Stack, error) {
	seen := map[string]bool{}
	for {
		if err := d.printNewEvents(ctx, stackID, &marker, seen); err != nil {
			return cfntypes.Stack{}, err
		}
		out, err := d.c.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
		if err != nil {
			if stack.Missing(err) {
				return cfntypes.Stack{StackId: aws.String(stackID), StackStatus: cfntypes.StackStatusDeleteComplete}, nil
			}
			return cfntypes.Stack{}, fmt.Errorf("describe stack %s: %w", stackID, err)
		}
		if len(out.Stacks) == 0 {
			return cfntypes.Stack{StackId: aws.String(stackID), StackStatus: cfntypes.StackStatusDeleteComplete}, nil
		}
		st := out.Stacks[0]
		if !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS") {
			// Events written between the last poll and the final status.
			if err := d.printNewEvents(ctx, stackID, &marker, seen); err != nil {
				return cfntypes.Stack{}, err
			}
			return st, nil
		}
		if err := d.sleep(ctx); err != nil {
			return cfntypes.Stack{}, fmt.Errorf("wait for stack %s: %w", stackID, err)
		}
	}
}

func (d *Deployer) printNewEvents(ctx context.Context, stackID string, marker *string, seen map[string]bool) error {
	var fresh []cfntypes.StackEvent
	var next *string
	done := false
	for page := 0; page < maxEventPages && !done; page++ {
		out, err := d.c.CloudFormation.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID), NextToken: next})
		if err != nil {
			if stack.Missing(err) {
				return nil
			}
			return fmt.Errorf("read events of stack %s: %w", stackID, err)
		}
		for _, e := range out.StackEvents {
			id := aws.ToString(e.EventId)
			if id == *marker || seen[id] {
				done = true
				break
			}
			fresh = append(fresh, e)
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	*marker = aws.ToString(fresh[0].EventId)
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	for i := len(fresh) - 1; i >= 0; i-- {
		e := fresh[i]
		seen[aws.ToString(e.EventId)] = true
		ts := ""
		if e.Timestamp != nil {
			ts = e.Timestamp.UTC().Format(time.TimeOnly)
		}
		line := fmt.Sprintf("  %s\t%s\t%s\t%s", ts, e.ResourceStatus, aws.ToString(e.ResourceType), aws.ToString(e.LogicalResourceId))
		if r := aws.ToString(e.ResourceStatusReason); r != "" {
			line += "\t" + oneLine(r, 160)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// deleteAndWait deletes a stack and waits until it is gone.
func (d *Deployer) deleteAndWait(ctx context.Context, stackID, name string) error {
	marker, err := d.newestEvent(ctx, stackID)
	if err != nil {
		return err
	}
	if _, err := d.c.CloudFormation.DeleteStack(ctx, &cloudformation.DeleteStackInput{
		StackName: aws.String(stackID), ClientRequestToken: aws.String(requestToken()),
	}, d.stackOperationOptions()...); err != nil {
		return fmt.Errorf("delete stack %s: %w", name, err)
	}
	st, err := d.waitStack(ctx, stackID, marker)
	if err != nil {
		return err
	}
	if st.StackStatus != cfntypes.StackStatusDeleteComplete {
		return fmt.Errorf("delete stack %s: %s: %s", name, st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	return nil
}
