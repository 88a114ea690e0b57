package deployer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"ecrscanner/infra/ops/stack"
)

// checkResources checks that every resource the template creates for the
// stack's parameters is in place. Those of types the emulator does not
// create are counted apart, not as missing.
func (d *Deployer) checkResources(r *Report, s *stack.Deployed) {
	var problems, emulatorMissing []string
	expected := 0
	ids := make([]string, 0, len(s.Template.Resources))
	for id := range s.Template.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		res := s.Template.Resources[id]
		if !s.Created(id) {
			continue
		}
		expected++
		got, ok := s.Resource(id)
		switch {
		case !ok && d.emulatorSkips(res.Type):
			emulatorMissing = append(emulatorMissing, id)
		case !ok:
			problems = append(problems, id+" missing")
		case !strings.HasSuffix(got.Status, "_COMPLETE") || strings.Contains(got.Status, "DELETE"):
			problems = append(problems, fmt.Sprintf("%s %s", id, got.Status))
		}
	}
	if len(problems) > 0 {
		r.add(CheckResources, Fail, "%d of %d not in place: %s", len(problems), expected, firstFew(problems, 5))
		return
	}
	detail := fmt.Sprintf("%d of %d resources in place", expected-len(emulatorMissing), expected)
	if len(emulatorMissing) > 0 {
		detail += fmt.Sprintf("; %d of types %s does not create: %s", len(emulatorMissing), d.emu.Name(), firstFew(emulatorMissing, 4))
	}
	r.add(CheckResources, Pass, "%s", detail)
}

// deployedFunction is a function of the stack as Lambda describes it.
type deployedFunction struct {
	spec   stack.FunctionSpec
	name   string
	arch   string
	env    map[string]string
	layers []string
}

// checkFunctions checks that each function is active, runs its last update
// and has code, on the architecture the stack gives it, and returns the
// functions as Lambda describes them for the checks that follow.
func (d *Deployer) checkFunctions(ctx context.Context, r *Report, s *stack.Deployed, ps Params) []deployedFunction {
	targets, err := FunctionTargets(s.Template, ps)
	if err != nil {
		r.add(CheckFunctions, Fail, "%v", err)
		return nil
	}
	want := map[string]string{}
	for _, t := range targets {
		want[t.Dir] = t.Arch
	}
	var out []deployedFunction
	var problems, fine []string
	ignored := 0
	for _, f := range s.Template.Functions() {
		id, ok := physicalID(s, f.LogicalID, f.HandlerDir, &problems)
		if !ok {
			continue
		}
		got, err := d.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(id)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.HandlerDir, err))
			continue
		}
		cfg := got.Configuration
		df := deployedFunction{spec: f, name: id, arch: ArchX86, env: map[string]string{}}
		if len(cfg.Architectures) > 0 {
			df.arch = string(cfg.Architectures[0])
		}
		if cfg.Environment != nil {
			df.env = cfg.Environment.Variables
		}
		for _, l := range cfg.Layers {
			df.layers = append(df.layers, aws.ToString(l.Arn))
		}
		out = append(out, df)
		switch {
		case cfg.State != "" && cfg.State != "Active":
			problems = append(problems, fmt.Sprintf("%s is %s: %s", f.HandlerDir, cfg.State, aws.ToString(cfg.StateReason)))
		case cfg.LastUpdateStatus == "Failed":
			problems = append(problems, fmt.Sprintf("%s: last update failed: %s", f.HandlerDir, aws.ToString(cfg.LastUpdateStatusReason)))
		case df.arch != want[f.HandlerDir] && d.emulatorIgnores(typeFunction, "Architectures"):
			ignored++
			fine = append(fine, fmt.Sprintf("%s (%s)", f.HandlerDir, want[f.HandlerDir]))
		case df.arch != want[f.HandlerDir]:
			problems = append(problems, fmt.Sprintf("%s runs on %s, the stack says %s", f.HandlerDir, df.arch, want[f.HandlerDir]))
		case cfg.CodeSize == 0:
			problems = append(problems, f.HandlerDir+" has no code")
		default:
			fine = append(fine, fmt.Sprintf("%s (%s)", f.HandlerDir, df.arch))
		}
	}
	if len(problems) > 0 {
		r.add(CheckFunctions, Fail, "%s", firstFew(problems, 3))
	} else {
		detail := fmt.Sprintf("%d active: %s", len(fine), strings.Join(fine, ", "))
		if ignored > 0 {
			detail += fmt.Sprintf("; %s ignored the Architectures of %d", d.emu.Name(), ignored)
		}
		r.add(CheckFunctions, Pass, "%s", detail)
	}
	return out
}

// checkEventSources checks that each queue-to-function mapping is enabled.
func (d *Deployer) checkEventSources(ctx context.Context, r *Report, s *stack.Deployed) {
	var problems []string
	n := 0
	for _, m := range s.Template.EventSourceMappings() {
		id, ok := physicalID(s, m.LogicalID, m.LogicalID, &problems)
		if !ok {
			continue
		}
		out, err := d.c.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(id)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", m.LogicalID, err))
			continue
		}
		if state := aws.ToString(out.State); state != "Enabled" {
			problems = append(problems, fmt.Sprintf("%s is %s", m.LogicalID, state))
			continue
		}
		n++
	}
	if len(problems) > 0 {
		r.add(CheckEventSources, Fail, "%s", firstFew(problems, 3))
		return
	}
	r.add(CheckEventSources, Pass, "%d queue-to-function mappings enabled", n)
}

// physicalID is the deployed name of a resource the check looks at. It is
// false for a resource the stack does not create (its condition is false, or
// the emulator skips its type), and false with a problem named after label
// for one the stack should have but does not list.
func physicalID(s *stack.Deployed, logicalID, label string, problems *[]string) (string, bool) {
	res, ok := s.Resource(logicalID)
	if !ok && !s.Created(logicalID) {
		return "", false
	}
	if !ok || res.PhysicalID == "" {
		*problems = append(*problems, label+" missing")
		return "", false
	}
	return res.PhysicalID, true
}
