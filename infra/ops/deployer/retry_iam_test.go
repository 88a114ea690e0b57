package deployer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// scriptedStacks plays CloudFormation for the create path: each CreateStack
// makes a stack that ends as the next outcome in the script, its events
// naming the failed resource; DeleteStack deletes.
type scriptedStacks struct {
	CloudFormationAPI // unused methods panic
	outcomes          []outcome
	creates, deletes  int
	stacks            map[string]*scriptedStack
}

type outcome struct {
	failedType, failedID, reason string // empty failedType: CREATE_COMPLETE
}

type scriptedStack struct {
	status cfntypes.StackStatus
	events []cfntypes.StackEvent // newest first
}

func (f *scriptedStacks) CreateStack(_ context.Context, in *cloudformation.CreateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	o := f.outcomes[f.creates]
	f.creates++
	id := fmt.Sprintf("arn:aws:cloudformation:us-east-1:123456789012:stack/%s/%d", aws.ToString(in.StackName), f.creates)
	st := &scriptedStack{status: cfntypes.StackStatusCreateComplete}
	ev := func(n int, logical, typ string, status cfntypes.ResourceStatus, reason string) cfntypes.StackEvent {
		return cfntypes.StackEvent{EventId: aws.String(fmt.Sprintf("%s-%d", id, n)), StackName: in.StackName, LogicalResourceId: aws.String(logical),
			ResourceType: aws.String(typ), ResourceStatus: status, ResourceStatusReason: aws.String(reason), Timestamp: aws.Time(time.Now())}
	}
	if o.failedType != "" {
		st.status = cfntypes.StackStatusRollbackComplete
		st.events = []cfntypes.StackEvent{
			ev(4, aws.ToString(in.StackName), "AWS::CloudFormation::Stack", cfntypes.ResourceStatus("ROLLBACK_COMPLETE"), ""),
			ev(3, "AlertFunction", "AWS::Lambda::Function", cfntypes.ResourceStatusCreateFailed, "Resource creation cancelled"),
			ev(2, o.failedID, o.failedType, cfntypes.ResourceStatusCreateFailed, o.reason),
			ev(1, aws.ToString(in.StackName), "AWS::CloudFormation::Stack", cfntypes.ResourceStatusCreateInProgress, "User Initiated"),
		}
	}
	if f.stacks == nil {
		f.stacks = map[string]*scriptedStack{}
	}
	f.stacks[id] = st
	return &cloudformation.CreateStackOutput{StackId: aws.String(id)}, nil
}

func (f *scriptedStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	st := f.stacks[aws.ToString(in.StackName)]
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{StackId: in.StackName, StackStatus: st.status}}}, nil
}

// DescribeStackEvents pages the events two at a time, so that the cause
// (the third event) is on a later page, as in a large rollback.
func (f *scriptedStacks) DescribeStackEvents(_ context.Context, in *cloudformation.DescribeStackEventsInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	evs := f.stacks[aws.ToString(in.StackName)].events
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(aws.ToString(in.NextToken), &start)
	}
	end := min(start+2, len(evs))
	out := &cloudformation.DescribeStackEventsOutput{StackEvents: evs[start:end]}
	if end < len(evs) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (f *scriptedStacks) DeleteStack(_ context.Context, in *cloudformation.DeleteStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	f.deletes++
	f.stacks[aws.ToString(in.StackName)].status = cfntypes.StackStatusDeleteComplete
	return &cloudformation.DeleteStackOutput{}, nil
}

func TestCreateRetriesAPipeThatCannotYetUseItsRole(t *testing.T) {
	const streamDenied = "Resource handler returned message: \"Cannot access stream arn:aws:dynamodb:us-east-1:123456789012:table/scans/stream/2026. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.\""
	pipeDenied := outcome{"AWS::Pipes::Pipe", "ScanEventsPipe", streamDenied}
	tests := []struct {
		name                  string
		outcomes              []outcome
		wantCreates, wantDels int
		wantErr               string
	}{
		{name: "succeeds first time", outcomes: []outcome{{}}, wantCreates: 1},
		{name: "pipe denied once, then created", outcomes: []outcome{pipeDenied, {}}, wantCreates: 2, wantDels: 1},
		{name: "pipe denied every time gives up", outcomes: []outcome{pipeDenied, pipeDenied, pipeDenied}, wantCreates: 3, wantDels: 2, wantErr: "ROLLBACK_COMPLETE"},
		{name: "another resource's failure is not retried", outcomes: []outcome{{"AWS::SQS::Queue", "ScanQueue", "Access denied for operation 'CreateQueue'"}}, wantCreates: 1, wantErr: "ROLLBACK_COMPLETE"},
		{name: "a pipe's other failure is not retried", outcomes: []outcome{{"AWS::Pipes::Pipe", "ScanEventsPipe", "Invalid FilterCriteria pattern"}}, wantCreates: 1, wantErr: "ROLLBACK_COMPLETE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cf := &scriptedStacks{outcomes: tc.outcomes}
			out := newTestOut(t)
			d := &Deployer{c: Clients{CloudFormation: cf}, out: out, poll: time.Millisecond, reg: "us-east-1"}
			p := &deployment{in: DeployInput{StackName: "scanner"}, templateURL: "https://example.invalid/t.yaml"}
			_, err := d.create(context.Background(), p, &DeployResult{})
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if cf.creates != tc.wantCreates || cf.deletes != tc.wantDels {
				t.Errorf("%d creates, %d deletes; want %d, %d", cf.creates, cf.deletes, tc.wantCreates, tc.wantDels)
			}
			if tc.wantDels > 0 && !strings.Contains(out.buf.String(), "IAM changes take a while to reach EventBridge Pipes") {
				t.Errorf("the retry is not explained:\n%s", out.buf.String())
			}
		})
	}
}
