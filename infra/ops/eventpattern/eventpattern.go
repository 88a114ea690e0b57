// Package eventpattern matches EventBridge event patterns, for the roles
// this project plays where no AWS service or emulator matches for it: the
// local Pipe filter and routing replayed events to one handler's queue.
//
// There is no Go event-pattern library and moto implements no
// TestEventPattern, so the package follows the matcher EventBridge runs,
// aws/event-ruler (JsonRuleCompiler, Event, ACFinder), rather than a reading
// of patterns as nested objects:
//
//   - An event is flattened to leaves: dotted field names with string,
//     number, true, false or null values. Objects and arrays are never values,
//     so "exists" sees only leaves, an empty array or object is no leaf, and an
//     array of objects contributes its elements' fields under its own name.
//   - A pattern is a set of leaf names, each with the values it accepts; the
//     event matches when every name has an accepted leaf, all taken from the
//     same element of any array they share (event-ruler's array consistency).
//     {"exists": false} holds when no such leaf is consistent with the fields
//     matched before it, in name order, as event-ruler checks it.
//   - Numbers equal numerically when both are exact doubles, else by text.
//
// Only the operators this project's template uses are supported — literal
// values, "prefix" and "exists"; Compile refuses any other operator, and
// every pattern EventBridge itself refuses, rather than mis-match.
// eventpattern_test.go holds the cases, each with its source.
package eventpattern

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// Pattern is a compiled EventBridge event pattern.
type Pattern struct {
	leaves []leaf // sorted by name, the order event-ruler matches in
}

// leaf is one field of the pattern and the values it accepts.
type leaf struct {
	name   string
	values []any // literals: string, json.Number, bool or nil
	prefix []string
	exists bool // {"exists": true}: any value
	absent bool // {"exists": false}
}

// Compile parses and checks a pattern. It refuses what EventBridge refuses
// at PutRule (not an object, an empty object or value array, a leaf that is
// not an array, an operator object without exactly one key, an argument of
// the wrong type) and any operator this package does not implement.
func Compile(src []byte) (*Pattern, error) {
	root, err := decodeObject(src)
	if err != nil {
		return nil, fmt.Errorf("event pattern: %w", err)
	}
	p := &Pattern{}
	if err := p.compileObject(root, ""); err != nil {
		return nil, err
	}
	sort.Slice(p.leaves, func(i, j int) bool { return p.leaves[i].name < p.leaves[j].name })
	return p, nil
}

func (p *Pattern) compileObject(node map[string]any, path string) error {
	if len(node) == 0 {
		return fmt.Errorf("event pattern %s: empty objects are not allowed", orRoot(path))
	}
	for _, k := range sortedKeys(node) {
		name := join(path, k)
		if k == "$or" {
			return fmt.Errorf("event pattern %s: $or is not supported by this matcher (local runner and replay)", name)
		}
		switch v := node[k].(type) {
		case map[string]any:
			if err := p.compileObject(v, name); err != nil {
				return err
			}
		case []any:
			l, err := compileLeaf(name, v)
			if err != nil {
				return err
			}
			p.leaves = append(p.leaves, l)
		default:
			return fmt.Errorf("event pattern %s: must be an object or an array of values", name)
		}
	}
	return nil
}

func compileLeaf(name string, values []any) (leaf, error) {
	l := leaf{name: name}
	if len(values) == 0 {
		return l, fmt.Errorf("event pattern %s: empty arrays are not allowed", name)
	}
	for _, v := range values {
		switch v := v.(type) {
		case string, json.Number, bool, nil:
			l.values = append(l.values, v)
		case map[string]any:
			if err := l.addOperator(v); err != nil {
				return l, err
			}
		default:
			return l, fmt.Errorf("event pattern %s: a value must be a string, number, true, false, null or an operator object", name)
		}
	}
	return l, nil
}

// supportedElsewhere are EventBridge operators this package does not implement.
var supportedElsewhere = map[string]bool{
	"anything-but": true, "numeric": true, "suffix": true, "equals-ignore-case": true,
	"cidr": true, "wildcard": true, "exactly": true,
}

func (l *leaf) addOperator(op map[string]any) error {
	if len(op) != 1 {
		return fmt.Errorf("event pattern %s: an operator object must have exactly one key, has %d", l.name, len(op))
	}
	for name, arg := range op {
		switch name {
		case "prefix":
			s, ok := arg.(string)
			if !ok {
				return fmt.Errorf("event pattern %s: prefix wants a string (prefix with equals-ignore-case is not supported by this matcher)", l.name)
			}
			l.prefix = append(l.prefix, s)
		case "exists":
			b, ok := arg.(bool)
			if !ok {
				return fmt.Errorf("event pattern %s: exists wants true or false", l.name)
			}
			l.exists = l.exists || b
			l.absent = l.absent || !b
		default:
			if supportedElsewhere[name] {
				return fmt.Errorf("event pattern %s: operator %q is not supported by this matcher (local runner and replay); only literals, prefix and exists are", l.name, name)
			}
			return fmt.Errorf("event pattern %s: unrecognized operator %q", l.name, name)
		}
	}
	return nil
}

// Match reports whether the JSON event, which must be an object, matches.
func (p *Pattern) Match(event []byte) (bool, error) {
	root, err := decodeObject(event)
	if err != nil {
		return false, fmt.Errorf("event: %w", err)
	}
	f := flattener{fields: map[string][]field{}}
	f.object(root, "", nil)
	return p.matchFrom(0, f.fields, nil), nil
}

// matchFrom tries the leaves from i on, each with every event field of its
// name that stays in the array elements chosen so far (in), backtracking.
func (p *Pattern) matchFrom(i int, fields map[string][]field, in membership) bool {
	if i == len(p.leaves) {
		return true
	}
	l := p.leaves[i]
	candidates := fields[l.name]
	if l.absent && !anyConsistent(candidates, in) && p.matchFrom(i+1, fields, in) {
		return true
	}
	for _, f := range candidates {
		next, ok := in.join(f.in)
		if ok && l.accepts(f.value) && p.matchFrom(i+1, fields, next) {
			return true
		}
	}
	return false
}

func anyConsistent(fields []field, in membership) bool {
	for _, f := range fields {
		if _, ok := in.join(f.in); ok {
			return true
		}
	}
	return false
}

func (l leaf) accepts(v any) bool {
	if l.exists {
		return true
	}
	if s, ok := v.(string); ok {
		for _, pre := range l.prefix {
			if strings.HasPrefix(s, pre) {
				return true
			}
		}
	}
	for _, want := range l.values {
		if equalValues(want, v) {
			return true
		}
	}
	return false
}

// equalValues compares JSON scalars: strings by exact text, numbers as
// event-ruler does (numerically when both are exact doubles, else by text),
// true, false and null only to themselves.
func equalValues(a, b any) bool {
	na, okA := a.(json.Number)
	nb, okB := b.(json.Number)
	if okA || okB {
		if !okA || !okB {
			return false
		}
		fa, exactA := exactDouble(na)
		fb, exactB := exactDouble(nb)
		if exactA && exactB {
			return fa == fb
		}
		return na == nb
	}
	return a == b
}

// exactDouble is n as a float64 when the double's shortest decimal form has
// the same value as n's text, event-ruler's test for a comparable number.
func exactDouble(n json.Number) (float64, bool) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	text, ok := new(big.Rat).SetString(string(n))
	short, ok2 := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	return f, ok && ok2 && text.Cmp(short) == 0
}

// field is one leaf of the event: a value and the array elements it is in.
type field struct {
	value any
	in    membership
}

// membership maps an array (numbered in event order) to the index of the
// element a field is in. A scalar element is in no element of its own array.
type membership map[int]int

// join is the union of two memberships, false if they disagree on an array.
func (m membership) join(o membership) (membership, bool) {
	if len(o) == 0 {
		return m, true
	}
	var out membership
	for arr, idx := range o {
		if have, ok := m[arr]; ok {
			if have != idx {
				return nil, false
			}
			continue
		}
		if out == nil {
			out = make(membership, len(m)+len(o))
			for k, v := range m {
				out[k] = v
			}
		}
		out[arr] = idx
	}
	if out == nil {
		return m, true
	}
	return out, true
}

// flattener turns an event into its leaves, as event-ruler's Event does.
type flattener struct {
	fields map[string][]field
	arrays int
}

func (f *flattener) object(obj map[string]any, path string, in membership) {
	for k, v := range obj {
		f.value(v, join(path, k), in)
	}
}

func (f *flattener) value(v any, name string, in membership) {
	switch v := v.(type) {
	case map[string]any:
		f.object(v, name, in)
	case []any:
		id := f.arrays
		f.arrays++
		for i, e := range v {
			switch e.(type) {
			case map[string]any, []any:
				f.value(e, name, with(in, id, i))
			default:
				f.value(e, name, in)
			}
		}
	default:
		f.fields[name] = append(f.fields[name], field{value: v, in: in})
	}
}

func with(m membership, arr, idx int) membership {
	out := make(membership, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[arr] = idx
	return out
}

func decodeObject(src []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(src)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a JSON object")
	}
	return obj, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// join names a nested field the way event-ruler does, with dots.
func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}
