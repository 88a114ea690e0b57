package stack

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// errNoValue is AWS::NoValue: the property is left out.
var errNoValue = errors.New("AWS::NoValue")

// Resolve evaluates a template value for this stack: literals, Ref (to a
// parameter, a pseudo parameter or a resource), Fn::If, Fn::Sub with plain
// names and Resource.Attribute, Fn::Join, and Fn::GetAtt Arn of queues.
// Anything else is refused with an error wrapping ErrUnknown rather than
// guessed. AWS::NoValue resolves to "".
func (s *Deployed) Resolve(v any) (string, error) {
	out, err := s.resolve(v)
	if errors.Is(err, errNoValue) {
		return "", nil
	}
	return out, err
}

// Environment resolves a function's environment variables. Every variable
// that fails is reported, in name order, and left out of the map.
func (s *Deployed) Environment(f FunctionSpec) (map[string]string, error) {
	env := map[string]string{}
	names := make([]string, 0, len(f.Environment))
	for k := range f.Environment {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []error
	for _, k := range names {
		v, err := s.Resolve(f.Environment[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", f.LogicalID, k, err))
			continue
		}
		env[k] = v
	}
	return env, errors.Join(errs...)
}

func (s *Deployed) resolve(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(v), nil
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				return s.function(fn, arg)
			}
		}
	}
	return "", fmt.Errorf("cannot resolve %v: %w", v, ErrUnknown)
}

// function evaluates one intrinsic function.
func (s *Deployed) function(fn string, arg any) (string, error) {
	args, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		return s.Ref(name)
	case "Fn::If":
		if len(args) != 3 {
			return "", errors.New("Fn::If wants three arguments")
		}
		cond, _ := args[0].(string)
		holds, err := s.Condition(cond)
		if err != nil {
			return "", err
		}
		if holds {
			return s.resolve(args[1])
		}
		return s.resolve(args[2])
	case "Fn::Sub":
		tmpl, ok := arg.(string)
		if !ok {
			return "", fmt.Errorf("Fn::Sub with variables: %w", ErrUnknown)
		}
		return s.sub(tmpl)
	case "Fn::Join":
		return s.join(args)
	case "Fn::GetAtt":
		if len(args) == 2 {
			id, _ := args[0].(string)
			attr, _ := args[1].(string)
			return s.GetAtt(id, attr)
		}
		return "", fmt.Errorf("Fn::GetAtt %v: %w", arg, ErrUnknown)
	}
	return "", fmt.Errorf("%s: %w", fn, ErrUnknown)
}

func (s *Deployed) join(args []any) (string, error) {
	if len(args) != 2 {
		return "", errors.New("Fn::Join wants two arguments")
	}
	sep, _ := args[0].(string)
	items, _ := args[1].([]any)
	parts := make([]string, len(items))
	for i, it := range items {
		v, err := s.resolve(it)
		if err != nil {
			return "", err
		}
		parts[i] = v
	}
	return strings.Join(parts, sep), nil
}

// Ref resolves a name as CloudFormation's Ref does: a pseudo parameter, a
// parameter (its deployed value, else its default), or a resource (its
// physical ID). A resource CloudFormation lists without a physical ID whose
// Ref is its Name property (an event bus: moto reports none) resolves to
// that name.
func (s *Deployed) Ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return s.Region, nil
	case "AWS::AccountId":
		return s.Account, nil
	case "AWS::StackName":
		return s.Name, nil
	case "AWS::StackId":
		return s.ID, nil
	case "AWS::Partition":
		return s.Partition, nil
	case "AWS::NoValue":
		return "", errNoValue
	}
	if s.Template == nil {
		return "", fmt.Errorf("Ref %s: no template: %w", name, ErrUnknown)
	}
	if p, ok := s.Template.Parameters[name]; ok {
		return s.param(name, p)
	}
	r, ok := s.Template.Resources[name]
	if !ok {
		return "", fmt.Errorf("unknown name %s", name)
	}
	if id := s.PhysicalID(name); id != "" {
		return id, nil
	}
	if r.Type == "AWS::Events::EventBus" {
		if n, err := s.Resolve(r.Properties["Name"]); err == nil && n != "" {
			return n, nil
		}
	}
	return "", fmt.Errorf("resource %s was not created (its type is not created here, or its condition is false)", name)
}

func (s *Deployed) param(name string, p Parameter) (string, error) {
	v, ok := s.Params[name]
	switch {
	case ok && p.NoEcho && v == MaskedValue:
		return "", fmt.Errorf("NoEcho parameter %s: %w", name, ErrUnknown)
	case ok:
		return v, nil
	case p.HasDefault:
		return p.Default, nil
	}
	return "", fmt.Errorf("parameter %s has no value: %w", name, ErrUnknown)
}

// GetAtt resolves the attributes this model can tell without asking the
// resource's service: the Arn of a queue, built from its URL.
func (s *Deployed) GetAtt(logicalID, attr string) (string, error) {
	if s.Template == nil {
		return "", fmt.Errorf("Fn::GetAtt %s.%s: no template: %w", logicalID, attr, ErrUnknown)
	}
	r, ok := s.Template.Resources[logicalID]
	if ok && attr == "Arn" && r.Type == "AWS::SQS::Queue" {
		url, err := s.Ref(logicalID)
		if err != nil {
			return "", err
		}
		return s.ARN("sqs", url[strings.LastIndex(url, "/")+1:]), nil
	}
	return "", fmt.Errorf("Fn::GetAtt %s.%s: %w", logicalID, attr, ErrUnknown)
}

// sub evaluates an Fn::Sub template string: ${Name} is a Ref, ${Id.Attr} a
// GetAtt and ${!Literal} the literal ${Literal}.
func (s *Deployed) sub(tmpl string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.Index(tmpl[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("Fn::Sub: unterminated ${ in %q", tmpl)
		}
		b.WriteString(tmpl[:i])
		v, err := s.subVar(tmpl[i+2 : i+j])
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		tmpl = tmpl[i+j+1:]
	}
}

func (s *Deployed) subVar(name string) (string, error) {
	if lit, ok := strings.CutPrefix(name, "!"); ok {
		return "${" + lit + "}", nil
	}
	if id, attr, ok := strings.Cut(name, "."); ok {
		return s.GetAtt(id, attr)
	}
	return s.Ref(name)
}
