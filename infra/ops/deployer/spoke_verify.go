package deployer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"ecrscanner/infra/ops/eventpattern"
)

// SpokeClients are what VerifySpoke reads in the member account: its own
// credentials, in the region checked.
type SpokeClients struct {
	CloudFormation *cloudformation.Client
	Events         *eventbridge.Client
	IAM            *iam.Client
	SQS            *sqs.Client
	STS            *sts.Client
}

// NewSpokeClients builds them from one configuration.
func NewSpokeClients(cfg aws.Config) SpokeClients {
	return SpokeClients{CloudFormation: cloudformation.NewFromConfig(cfg), Events: eventbridge.NewFromConfig(cfg),
		IAM: iam.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg)}
}

// samplePush is an ECR push as EventBridge delivers it.
const samplePush = `{"version":"0","id":"00000000-0000-0000-0000-000000000000","detail-type":"ECR Image Action","source":"aws.ecr","account":"%s","time":"2026-01-01T00:00:00Z","region":"%s","resources":[],"detail":{"result":"SUCCESS","repository-name":"app","image-digest":"sha256:%s","action-type":"PUSH","image-tag":"v1"}}`

// VerifySpoke checks, with a member account's credentials, that its spoke
// forwards pushes to the hub and that the hub's roles may assume its spoke
// role: the spoke stack is complete, its ECR push rule is enabled, matches a
// push and targets the hub's ingress bus
// with a role, nothing waits in its forwarding DLQ, and the spoke role
// exists with a trust policy admitting the hub's scan and tag roles. The
// hub's side (its bus policy admitting the organization, its roles allowed
// sts:AssumeRole) is the hub's `make verify`.
func VerifySpoke(ctx context.Context, c SpokeClients, member string, o SpokeOptions, region string) (Report, error) {
	var r Report
	if err := o.normalize(); err != nil {
		return r, err
	}
	id, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return r, fmt.Errorf("who am I: %w", err)
	}
	if got := aws.ToString(id.Account); member != "" && got != member {
		return r, fmt.Errorf("the credentials are account %s's, not member %s's: run with the member's credentials (AWS_PROFILE)", got, member)
	}
	member = aws.ToString(id.Account)
	outputs := verifySpokeStack(ctx, c, &r, o.StackName)
	verifyForwarding(ctx, c, &r, o, member, region, outputs)
	verifySpokeRole(ctx, c, &r, o)
	return r, nil
}

func verifySpokeStack(ctx context.Context, c SpokeClients, r *Report, name string) map[string]string {
	out, err := c.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil || len(out.Stacks) == 0 {
		r.add("spoke stack", Fail, "%s: %v (make deploy-spoke, or the StackSet in README, Organization)", name, err)
		return nil
	}
	st := out.Stacks[0]
	res := Pass
	if s := string(st.StackStatus); !strings.HasSuffix(s, "_COMPLETE") || strings.Contains(s, "ROLLBACK") || strings.Contains(s, "DELETE") {
		res = Fail
	}
	r.add("spoke stack", res, "%s %s", name, st.StackStatus)
	outputs := map[string]string{}
	for _, o := range st.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs
}

func verifyForwarding(ctx context.Context, c SpokeClients, r *Report, o SpokeOptions, member, region string, outputs map[string]string) {
	if member == o.HubAccount && region == o.HubRegion {
		r.add("forwarding", Skip, "the hub's own account and region: its default bus's rule scans these pushes")
		return
	}
	rule, err := c.CloudFormation.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String(o.StackName), LogicalResourceId: aws.String("EcrPushForwardRule")})
	if err != nil {
		r.add("forwarding rule", Fail, "EcrPushForwardRule: %v", err)
		return
	}
	name := path.Base(aws.ToString(rule.StackResourceDetail.PhysicalResourceId))
	d, err := c.Events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)})
	if err != nil {
		r.add("forwarding rule", Fail, "%s: %v", name, err)
		return
	}
	// The deployed pattern, matched by this project's EventBridge matcher
	// (infra/ops/eventpattern, which the local runner judges events with):
	// moto does not implement TestEventPattern.
	match, err := matchesPush(aws.ToString(d.EventPattern), member, region)
	switch {
	case err != nil:
		r.add("forwarding rule", Fail, "%s: test a push against its pattern: %v", name, err)
	case d.State != "ENABLED" || !match:
		r.add("forwarding rule", Fail, "%s is %s; matches an ECR push: %v", name, d.State, match)
	default:
		r.add("forwarding rule", Pass, "%s enabled, matches an ECR push", name)
	}
	bus := fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", partition(region), o.HubRegion, o.HubAccount, o.HubEventBus)
	t, err := c.Events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)})
	ok := false
	for _, tg := range t.Targets {
		ok = ok || (aws.ToString(tg.Arn) == bus && aws.ToString(tg.RoleArn) != "")
	}
	if err != nil || !ok {
		r.add("forwarding target", Fail, "want %s with a RoleArn (%v)", bus, err)
	} else {
		r.add("forwarding target", Pass, "%s, with a role", bus)
	}
	verifyForwardDLQ(ctx, c, r, outputs["ForwardDLQUrl"])
}

func verifyForwardDLQ(ctx context.Context, c SpokeClients, r *Report, url string) {
	if url == "" {
		r.add("forwarding DLQ", Fail, "no ForwardDLQUrl output")
		return
	}
	a, err := c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		r.add("forwarding DLQ", Fail, "%s: %v", url, err)
		return
	}
	if n := a.Attributes["ApproximateNumberOfMessages"]; n != "0" {
		r.add("forwarding DLQ", Fail, "%s messages could not be forwarded to the hub (%s): read their failure reason", n, url)
		return
	}
	r.add("forwarding DLQ", Pass, "empty")
}

func verifySpokeRole(ctx context.Context, c SpokeClients, r *Report, o SpokeOptions) {
	role := o.RoleName
	if role == "" {
		role = "qualys-ecr-scanner-spoke"
	}
	got, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	if err != nil {
		r.add("spoke role", Fail, "%s: %v (deploy the spoke in the hub's region %s: it creates the role)", role, err, o.HubRegion)
		return
	}
	doc, _ := url.QueryUnescape(aws.ToString(got.Role.AssumeRolePolicyDocument))
	for _, fn := range []string{"ScanRole", "TagRole"} {
		caller := fmt.Sprintf("arn:%s:iam::%s:role/%s-%s-EXAMPLE", "aws", o.HubAccount, o.HubStackName, fn)
		if trustAdmits(doc, o.HubAccount, caller) {
			r.add("spoke role trust", Pass, "%s may be assumed by the hub's %s", aws.ToString(got.Role.Arn), fn)
		} else {
			r.add("spoke role trust", Fail, "%s does not admit the hub's %s (%s): redeploy the spoke with HubStackName=%s", aws.ToString(got.Role.Arn), fn, caller, o.HubStackName)
		}
	}
}

// trustAdmits evaluates the trust policy's Allow statements for caller (a
// role ARN of the hub account): the account's root or the role as
// principal, and ArnLike/ArnEquals conditions on aws:PrincipalArn.
func trustAdmits(doc, account, caller string) bool {
	var p struct {
		Statement []struct {
			Effect    string
			Principal struct{ AWS any }
			Condition map[string]map[string]any
		}
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return false
	}
	for _, s := range p.Statement {
		principals := strings.Join(strs(s.Principal.AWS), " ")
		if s.Effect != "Allow" || !(strings.Contains(principals, ":"+account+":root") || strings.Contains(principals, caller)) {
			continue
		}
		ok := true
		for op, kv := range s.Condition {
			for key, want := range kv {
				if key != "aws:PrincipalArn" || (op != "ArnLike" && op != "ArnEquals") {
					ok = false
					continue
				}
				matched := false
				for _, w := range strs(want) {
					m, _ := path.Match(w, caller)
					matched = matched || m || w == caller
				}
				ok = ok && matched
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func matchesPush(pattern, account, region string) (bool, error) {
	p, err := eventpattern.Compile([]byte(pattern))
	if err != nil {
		return false, err
	}
	return p.Match([]byte(fmt.Sprintf(samplePush, account, region, strings.Repeat("0", 64))))
}

// strs reads a policy element that is a string or a list of strings.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
