package stack

import (
	"errors"
	"fmt"
)

// maxConditionDepth bounds how deeply conditions may nest or name one
// another, so a template whose conditions refer to each other in a cycle
// fails instead of recursing forever.
const maxConditionDepth = 20

// Condition evaluates one of the template's conditions for this stack's
// parameters: Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition, over
// values Resolve reads. An error wrapping ErrUnknown means the condition
// depends on something not known here (a masked NoEcho value).
func (s *Deployed) Condition(name string) (bool, error) {
	return s.namedCondition(name, 0)
}

func (s *Deployed) namedCondition(name string, depth int) (bool, error) {
	if s.Template == nil {
		return false, fmt.Errorf("condition %s: no template: %w", name, ErrUnknown)
	}
	c, ok := s.Template.Conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	return s.cond(c, depth)
}

func (s *Deployed) cond(v any, depth int) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("cannot evaluate condition %v: %w", v, ErrUnknown)
	}
	if depth > maxConditionDepth {
		return false, fmt.Errorf("conditions nest deeper than %d", maxConditionDepth)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Equals":
			return s.equals(args)
		case "Fn::Not":
			if len(args) != 1 {
				return false, errors.New("Fn::Not wants one argument")
			}
			holds, err := s.cond(args[0], depth+1)
			if err != nil {
				return false, err
			}
			return !holds, nil
		case "Fn::And", "Fn::Or":
			return s.all(fn == "Fn::And", args, depth)
		case "Condition":
			name, _ := arg.(string)
			return s.namedCondition(name, depth+1)
		}
		return false, fmt.Errorf("condition function %s: %w", fn, ErrUnknown)
	}
	return false, nil
}

func (s *Deployed) equals(args []any) (bool, error) {
	if len(args) != 2 {
		return false, errors.New("Fn::Equals wants two arguments")
	}
	a, err := s.Resolve(args[0])
	if err != nil {
		return false, err
	}
	b, err := s.Resolve(args[1])
	if err != nil {
		return false, err
	}
	return a == b, nil
}

// all evaluates Fn::And (and true) or Fn::Or (and false), stopping at the
// first operand that decides.
func (s *Deployed) all(and bool, args []any, depth int) (bool, error) {
	for _, a := range args {
		holds, err := s.cond(a, depth+1)
		if err != nil {
			return false, err
		}
		if holds != and {
			return !and, nil
		}
	}
	return and, nil
}
