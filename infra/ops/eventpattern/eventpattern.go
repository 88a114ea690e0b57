// Package eventpattern matches EventBridge event patterns, for the roles
// this project plays where no AWS service or emulator matches for it: the
// local Pipe filter and routing replayed events to one handler's queue.
package eventpattern

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Pattern is an EventBridge event pattern, as used by the Pipe's filter
// criteria. There is no Go event-pattern library and moto implements no
// TestEventPattern, so this supports exactly the operators this project's
// template uses — nested fields, literal lists, "prefix" and "exists" — with
// EventBridge's documented semantics (see eventpattern_test.go); any other
// operator is refused when the pattern is compiled rather than mis-matched.
type Pattern struct {
	root map[string]any
}

// Compile parses and checks a pattern.
func Compile(src []byte) (*Pattern, error) {
	var root map[string]any
	dec := json.NewDecoder(strings.NewReader(string(src)))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("event pattern: %w", err)
	}
	if err := checkPattern(root, ""); err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

func checkPattern(node map[string]any, path string) error {
	for k, v := range node {
		p := path + "." + k
		switch v := v.(type) {
		case map[string]any:
			if err := checkPattern(v, p); err != nil {
				return err
			}
		case []any:
			for _, m := range v {
				if op, ok := m.(map[string]any); ok {
					if len(op) != 1 {
						return fmt.Errorf("event pattern %s: operator object must have one key", p)
					}
					for name, arg := range op {
						switch name {
						case "prefix":
							if _, ok := arg.(string); !ok {
								return fmt.Errorf("event pattern %s: prefix wants a string", p)
							}
						case "exists":
							if _, ok := arg.(bool); !ok {
								return fmt.Errorf("event pattern %s: exists wants a boolean", p)
							}
						default:
							return fmt.Errorf("event pattern %s: operator %q is not supported by the local runner (infra/local) and the replay command", p, name)
						}
					}
				}
			}
		default:
			return fmt.Errorf("event pattern %s: want an object or an array of values", p)
		}
	}
	return nil
}

// Match reports whether the JSON event matches the pattern.
func (p *Pattern) Match(event []byte) (bool, error) {
	var ev map[string]any
	dec := json.NewDecoder(strings.NewReader(string(event)))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return false, fmt.Errorf("event: %w", err)
	}
	return matchObject(p.root, ev), nil
}

func matchObject(pat map[string]any, ev map[string]any) bool {
	for k, pv := range pat {
		v, present := ev[k]
		switch pv := pv.(type) {
		case map[string]any:
			sub, ok := v.(map[string]any)
			if !present || !ok || !matchObject(pv, sub) {
				return false
			}
		case []any:
			if !matchValues(pv, v, present) {
				return false
			}
		}
	}
	return true
}

// matchValues: the field matches if any matcher matches; an array in the
// event matches if any of its elements does.
func matchValues(matchers []any, v any, present bool) bool {
	for _, m := range matchers {
		if op, ok := m.(map[string]any); ok {
			if ex, ok := op["exists"].(bool); ok {
				if ex == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		values := []any{v}
		if arr, ok := v.([]any); ok {
			values = arr
		}
		for _, val := range values {
			if matchOne(m, val) {
				return true
			}
		}
	}
	return false
}

func matchOne(m, v any) bool {
	switch m := m.(type) {
	case map[string]any:
		if pre, ok := m["prefix"].(string); ok {
			s, ok := v.(string)
			return ok && strings.HasPrefix(s, pre)
		}
		return false
	case json.Number:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		a, errA := m.Float64()
		b, errB := n.Float64()
		return errA == nil && errB == nil && a == b
	default:
		return m == v
	}
}
