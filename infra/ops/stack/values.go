package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ofType returns the logical IDs of the resources of one type, sorted.
func (t *Template) ofType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// logicalID reads the resource a value points at: {"Ref": id} or
// {"Fn::GetAtt": [id, attr]}.
func logicalID(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	if ref, ok := m["Ref"].(string); ok {
		if strings.HasPrefix(ref, "AWS::") {
			return "", false
		}
		return ref, true
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
		id, ok := ga[0].(string)
		return id, ok
	}
	return "", false
}

// patternJSON returns an event pattern as JSON, whether the template holds it
// as a mapping or as a JSON string.
func patternJSON(v any) ([]byte, error) {
	switch p := v.(type) {
	case string:
		if !json.Valid([]byte(p)) {
			return nil, errors.New("pattern is not valid JSON")
		}
		return []byte(p), nil
	case map[string]any:
		return json.Marshal(p)
	case nil:
		return nil, errors.New("no pattern")
	}
	return nil, fmt.Errorf("pattern is a %T", v)
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// scalarString renders a scalar as CloudFormation would pass it: 30 as "30",
// true as "true". Non-scalars render as "".
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// intOf reads an integer written as a number or a numeric string; anything
// else (absent, an intrinsic function) is 0.
func intOf(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case float64:
		if x == float64(int(x)) {
			return int(x)
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n
		}
	}
	return 0
}
