package replay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

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
type StackAPI = stack.DescribeAPI

// HandlerSpec is a downstream handler as the template declares it: a rule on
// the image-scans bus whose target is the queue "<X>Queue", which an event
// source mapping feeds to a function. The handler's name is X in lower case,
// which is its folder under handlers/ (ArchiveQueue feeds handlers/archive).
// A queue no function reads (RejectedRecordsQueue, where rejections wait for
// an operator) is no handler: nothing there is to be redone.
type HandlerSpec struct {
	Name  string
	Rule  string // logical ID
	Queue string // logical ID
}

// HandlerSpecs lists the template's downstream handlers, sorted by name, so a
// handler added to the template is found without a code change here.
func HandlerSpecs(t *stack.Template) []HandlerSpec {
	read := map[string]bool{}
	for _, m := range t.EventSourceMappings() {
		read[m.Queue] = true
	}
	var out []HandlerSpec
	for _, r := range t.BusRules(BusID) {
		x, ok := strings.CutSuffix(r.Queue, "Queue")
		if !ok || x == "" || !read[r.Queue] {
			continue
		}
		out = append(out, HandlerSpec{Name: strings.ToLower(x), Rule: r.LogicalID, Queue: r.Queue})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Stack is replay's view of a deployed scanner stack (stack.Deployed): the
// names and URLs of the resources replay and status touch, read from the one
// model by logical ID.
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
	return stack.ARN(s.Partition, "events", s.Region, s.Account, "event-bus/"+s.Bus)
}

// RuleARN is the ARN of a handler's rule, a rule on the image-scans bus.
func (s Stack) RuleARN(h Handler) string {
	return stack.ARN(s.Partition, "events", s.Region, s.Account, "rule/"+s.Bus+"/"+h.Rule)
}

// ArchiveARN is the ARN of the archive named name.
func (s Stack) ArchiveARN(name string) string {
	return stack.ARN(s.Partition, "events", s.Region, s.Account, "archive/"+name)
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

// LoadStack reads the stack name as deployed from the template t and picks
// out what replay uses: the scans and idempotency tables, the bus, its
// archive and each handler's queue and rule.
func LoadStack(ctx context.Context, api StackAPI, name string, t *stack.Template) (Stack, error) {
	d, err := stack.Describe(ctx, api, name, t)
	if err != nil {
		return Stack{}, err
	}
	return StackOf(d)
}

// StackOf picks out of a deployed stack what replay uses. It fails, naming
// them, when resources replay needs are missing.
func StackOf(d *stack.Deployed) (Stack, error) {
	st := Stack{Name: d.Name, Partition: d.Partition, Region: d.Region, Account: d.Account}
	var missing []string
	need := func(id string) string {
		v, err := d.Ref(id)
		if err != nil || v == "" {
			missing = append(missing, id)
		}
		return v
	}
	st.ScansTable = need(ScansTableID)
	st.IdempotencyTable = need(IdempotencyTableID)
	st.Bus = need(BusID)
	st.Archive = d.PhysicalID(ArchiveID)
	for _, h := range HandlerSpecs(d.Template) {
		queue, rule := need(h.Queue), need(h.Rule)
		// CloudFormation names a rule on a custom bus "bus|rule".
		if _, r, ok := strings.Cut(rule, "|"); ok {
			rule = r
		}
		st.Handlers = append(st.Handlers, Handler{Name: h.Name, Queue: queue, Rule: rule})
	}
	if len(missing) > 0 {
		return Stack{}, fmt.Errorf("stack %s lacks %s: is it the scanner's stack, deployed from this version of the template?", d.Name, strings.Join(missing, ", "))
	}
	if len(st.Handlers) == 0 {
		return Stack{}, errors.New("the template declares no handler on the image-scans bus")
	}
	return st, nil
}
