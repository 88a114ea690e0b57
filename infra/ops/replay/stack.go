package replay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"ecrscanner/infra/ops/stack"
)

// Logical IDs of the template resources replay and status use.
const (
	ScansTableID       = "ScansTable"
	IdempotencyTableID = "IdempotencyTable"
	BusID              = "ImageScansBus"
	ArchiveID          = "ImageScansArchive"
)

// StackAPI is the part of the CloudFormation API that finds a stack's
// resources.
type StackAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	ListStackResources(ctx context.Context, in *cloudformation.ListStackResourcesInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// HandlerSpec is a downstream handler as the template declares it: a rule on
// the image-scans bus whose target is the queue "<X>Queue". The handler's
// name is X in lower case, which is its folder under handlers/ (ArchiveQueue
// feeds handlers/archive).
type HandlerSpec struct {
	Name  string
	Rule  string // logical ID
	Queue string // logical ID
}

// HandlerSpecs lists the template's downstream handlers, sorted by name, so a
// handler added to the template is found without a code change here.
func HandlerSpecs(t *stack.Template) []HandlerSpec {
	var out []HandlerSpec
	for _, r := range t.BusRules(BusID) {
		x, ok := strings.CutSuffix(r.Queue, "Queue")
		if !ok || x == "" {
			continue
		}
		out = append(out, HandlerSpec{Name: strings.ToLower(x), Rule: r.LogicalID, Queue: r.Queue})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Stack is a deployed scanner stack as replay and status see it: names and
// URLs of the resources they touch.
type Stack struct {
	Name                       string
	Partition, Region, Account string
	ScansTable                 string
	IdempotencyTable           string
	// Bus is the image-scans bus's name.
	Bus string
	// Archive is the bus archive's name; empty when CloudFormation does not
	// report it (moto does not), in which case ArchiveReplay looks it up.
	Archive  string
	Handlers []Handler // sorted by name
}

// Handler is a deployed downstream handler.
type Handler struct {
	Name string
	// Queue is the URL of the handler's queue.
	Queue string
	// Rule is the name of the handler's rule on the bus.
	Rule string
}

// BusARN is the image-scans bus's ARN.
func (s Stack) BusARN() string {
	return fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", s.Partition, s.Region, s.Account, s.Bus)
}

// RuleARN is the ARN of a handler's rule, a rule on the image-scans bus.
func (s Stack) RuleARN(h Handler) string {
	return fmt.Sprintf("arn:%s:events:%s:%s:rule/%s/%s", s.Partition, s.Region, s.Account, s.Bus, h.Rule)
}

// ArchiveARN is the ARN of the archive named name.
func (s Stack) ArchiveARN(name string) string {
	return fmt.Sprintf("arn:%s:events:%s:%s:archive/%s", s.Partition, s.Region, s.Account, name)
}

// HandlerNames lists the handlers' names in order.
func (s Stack) HandlerNames() []string {
	names := make([]string, len(s.Handlers))
	for i, h := range s.Handlers {
		names[i] = h.Name
	}
	return names
}

// Select returns the named handlers (all of them for no names), refusing an
// unknown name with the list of known ones.
func (s Stack) Select(names []string) ([]Handler, error) {
	if len(names) == 0 {
		return append([]Handler(nil), s.Handlers...), nil
	}
	var out []Handler
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		found := false
		for _, h := range s.Handlers {
			if h.Name == n {
				out = append(out, h)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("stack %s has no handler %q (handlers: %s)", s.Name, n, strings.Join(s.HandlerNames(), ", "))
		}
	}
	return out, nil
}

// LoadStack reads the physical resources of the stack name and matches them
// with the template t: the scans and idempotency tables, the bus, its
// archive and each handler's queue and rule.
func LoadStack(ctx context.Context, api StackAPI, name string, t *stack.Template) (Stack, error) {
	desc, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return Stack{}, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(desc.Stacks) == 0 {
		return Stack{}, fmt.Errorf("describe stack %s: no such stack", name)
	}
	st := Stack{Name: name}
	// arn:partition:cloudformation:region:account:stack/name/uuid
	parts := strings.SplitN(aws.ToString(desc.Stacks[0].StackId), ":", 6)
	if len(parts) != 6 || parts[1] == "" || parts[3] == "" || parts[4] == "" {
		return Stack{}, fmt.Errorf("stack %s: unexpected stack ID %q", name, aws.ToString(desc.Stacks[0].StackId))
	}
	st.Partition, st.Region, st.Account = parts[1], parts[3], parts[4]

	physical := map[string]string{}
	var next *string
	for {
		out, err := api.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String(name), NextToken: next})
		if err != nil {
			return Stack{}, fmt.Errorf("list resources of stack %s: %w", name, err)
		}
		for _, r := range out.StackResourceSummaries {
			physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	var missing []string
	need := func(id string) string {
		if physical[id] == "" {
			missing = append(missing, id)
		}
		return physical[id]
	}
	if physical[BusID] == "" {
		// CloudFormation reports a bus by its name; moto reports nothing,
		// so fall back on the name the template gives it.
		physical[BusID] = nameFromTemplate(t, BusID, st)
	}
	st.ScansTable = need(ScansTableID)
	st.IdempotencyTable = need(IdempotencyTableID)
	st.Bus = need(BusID)
	st.Archive = physical[ArchiveID]
	for _, h := range HandlerSpecs(t) {
		queue, rule := need(h.Queue), need(h.Rule)
		// CloudFormation names a rule on a custom bus "bus|rule".
		if _, r, ok := strings.Cut(rule, "|"); ok {
			rule = r
		}
		st.Handlers = append(st.Handlers, Handler{Name: h.Name, Queue: queue, Rule: rule})
	}
	if len(missing) > 0 {
		return Stack{}, fmt.Errorf("stack %s lacks %s: is it the scanner's stack, deployed from this version of the template?", name, strings.Join(missing, ", "))
	}
	if len(st.Handlers) == 0 {
		return Stack{}, errors.New("the template declares no handler on the image-scans bus")
	}
	return st, nil
}

// nameFromTemplate evaluates the Name property of resource id when it is a
// string or an Fn::Sub of pseudo parameters only; "" otherwise.
func nameFromTemplate(t *stack.Template, id string, st Stack) string {
	v := t.Resources[id].Properties["Name"]
	if s, ok := v.(string); ok {
		return s
	}
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	sub, ok := m["Fn::Sub"].(string)
	if !ok {
		return ""
	}
	s := strings.NewReplacer("${AWS::StackName}", st.Name, "${AWS::Region}", st.Region, "${AWS::AccountId}", st.Account, "${AWS::Partition}", st.Partition).Replace(sub)
	if strings.Contains(s, "${") {
		return ""
	}
	return s
}
