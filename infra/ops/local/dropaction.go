package local

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"ecrscanner/infra/ops/stack"
)

// DropActionEnv names the environment variable that removes one action from
// one role of the template for a local run: "RoleLogicalID:service:Action",
// e.g. ArchiveRole:s3:PutObject. With IAM enforced, the run must then fail
// where that role needs the action.
const DropActionEnv = "ECRSCAN_DROP_ACTION"

// DropAction parses spec ("RoleLogicalID:service:Action") and returns a
// copy of t whose role lacks the action in every statement of its inline
// policies; a statement left with no action is removed. It fails when the
// role or the action is not in the template, so a typo cannot pass as a
// role that needs nothing.
func DropAction(t *stack.Template, spec string) (*stack.Template, error) {
	roleID, action, ok := strings.Cut(spec, ":")
	if !ok || roleID == "" || !strings.Contains(action, ":") {
		return nil, fmt.Errorf("%s %q: want RoleLogicalID:service:Action", DropActionEnv, spec)
	}
	r, ok := t.Resources[roleID]
	if !ok || r.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("%s %q: %s is not an AWS::IAM::Role of the template", DropActionEnv, spec, roleID)
	}
	var props map[string]any // a deep copy: the template is shared
	b, _ := json.Marshal(r.Properties)
	if err := json.Unmarshal(b, &props); err != nil {
		return nil, err
	}
	removed := 0
	policies, _ := props["Policies"].([]any)
	for _, p := range policies {
		doc, _ := p.(map[string]any)["PolicyDocument"].(map[string]any)
		if doc == nil {
			continue
		}
		var kept []any
		for _, st := range statements(doc["Statement"]) {
			n := dropFromStatement(st, action)
			removed += n
			if acts := actions(st["Action"]); n == 0 || len(acts) > 0 {
				kept = append(kept, st)
			}
		}
		doc["Statement"] = kept
	}
	if removed == 0 {
		return nil, fmt.Errorf("%s %q: no inline policy of %s allows %s", DropActionEnv, spec, roleID, action)
	}
	out := *t
	out.Resources = make(map[string]stack.Resource, len(t.Resources))
	for id, res := range t.Resources {
		out.Resources[id] = res
	}
	r.Properties = props
	out.Resources[roleID] = r
	return &out, nil
}

func statements(v any) []map[string]any {
	switch v := v.(type) {
	case map[string]any:
		return []map[string]any{v}
	case []any:
		var out []map[string]any
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func actions(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// dropFromStatement removes action from an Allow statement's Action and
// says how many it removed. IAM action names are case-insensitive.
func dropFromStatement(st map[string]any, action string) int {
	if st["Effect"] != "Allow" {
		return 0
	}
	acts := actions(st["Action"])
	kept := slices.DeleteFunc(slices.Clone(acts), func(a string) bool { return strings.EqualFold(a, action) })
	if len(kept) == len(acts) {
		return 0
	}
	l := make([]any, len(kept))
	for i, a := range kept {
		l[i] = a
	}
	st["Action"] = l
	return len(acts) - len(kept)
}
