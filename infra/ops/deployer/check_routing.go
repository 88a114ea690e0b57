package deployer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/pipes"
	pipestypes "github.com/aws/aws-sdk-go-v2/service/pipes/types"

	"ecrscanner/infra/ops/stack"
)

// checkRules checks that the rules on the default bus and the stack's own
// buses are deployed and enabled.
func (d *Deployer) checkRules(ctx context.Context, r *Report, s *stack.Deployed) {
	buses := []string{"default"}
	for id, res := range s.Template.Resources {
		if res.Type == "AWS::Events::EventBus" {
			buses = append(buses, id)
		}
	}
	sort.Strings(buses[1:])
	var problems, fine []string
	for _, bus := range buses {
		for _, rule := range s.Template.BusRules(bus) {
			problem, exists := d.checkRule(ctx, s, bus, rule.LogicalID)
			switch {
			case problem != "":
				problems = append(problems, problem)
			case exists:
				fine = append(fine, rule.LogicalID)
			}
		}
	}
	switch {
	case len(problems) > 0:
		r.add(CheckRules, Fail, "%s", firstFew(problems, 3))
	case len(fine) == 0:
		r.add(CheckRules, Fail, "the stack has no rules")
	default:
		r.add(CheckRules, Pass, "%d enabled: %s", len(fine), strings.Join(fine, ", "))
	}
}

// checkRule checks that the rule logicalID on the bus (a logical ID, or
// "default") is deployed and enabled. It returns what is wrong, if anything,
// and whether the stack has the rule.
func (d *Deployer) checkRule(ctx context.Context, s *stack.Deployed, bus, logicalID string) (problem string, exists bool) {
	res, ok := s.Resource(logicalID)
	if !ok {
		if s.Created(logicalID) {
			return logicalID + " missing", false
		}
		return "", false
	}
	onBus, name := "default", res.PhysicalID
	if b, n, split := strings.Cut(res.PhysicalID, "|"); split {
		onBus, name = b, n
	} else if bus != "default" {
		onBus = busName(s, bus)
	}
	if onBus == "" {
		return fmt.Sprintf("%s: cannot tell the name of bus %s", logicalID, bus), true
	}
	out, err := d.c.Events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(onBus)})
	if err != nil {
		return fmt.Sprintf("%s: %v", logicalID, err), true
	}
	if out.State != "ENABLED" {
		return fmt.Sprintf("%s is %s", logicalID, out.State), true
	}
	return "", true
}

// busName is the name of one of the stack's buses: its Ref, which is its
// name (the model falls back on the template's Name property where
// CloudFormation reports no physical ID), without an ARN's prefix.
func busName(s *stack.Deployed, logicalID string) string {
	name, err := s.Ref(logicalID)
	if err != nil {
		return ""
	}
	if i := strings.LastIndex(name, "/"); strings.HasPrefix(name, "arn:") && i >= 0 {
		return name[i+1:]
	}
	return name
}

// checkPipe checks that the stack's Pipes are running.
func (d *Deployer) checkPipe(ctx context.Context, r *Report, s *stack.Deployed) {
	var ids []string
	for id, res := range s.Template.Resources {
		if res.Type == typePipe && s.Created(id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		r.add(CheckPipe, Skip, "the template has no pipe")
		return
	}
	var problems, fine []string
	for _, id := range ids {
		res, ok := s.Resource(id)
		if !ok || res.PhysicalID == "" {
			if d.emulatorSkips(typePipe) {
				r.add(CheckPipe, Skip, "%s (the local runner plays %s)", d.notCreated(typePipe), id)
				return
			}
			problems = append(problems, id+" missing")
			continue
		}
		name := res.PhysicalID
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		out, err := d.c.Pipes.DescribePipe(ctx, &pipes.DescribePipeInput{Name: aws.String(name)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		if out.DesiredState != pipestypes.RequestedPipeStateDescribeResponseRunning || out.CurrentState != pipestypes.PipeStateRunning {
			problems = append(problems, fmt.Sprintf("%s is %s (desired %s) %s", name, out.CurrentState, out.DesiredState, aws.ToString(out.StateReason)))
			continue
		}
		fine = append(fine, name+" RUNNING")
	}
	if len(problems) > 0 {
		r.add(CheckPipe, Fail, "%s", firstFew(problems, 3))
		return
	}
	r.add(CheckPipe, Pass, "%s", strings.Join(fine, ", "))
}
