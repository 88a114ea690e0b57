package local

import (
	"encoding/json"
	"fmt"
	"strings"

	"ecrscanner/infra/ops/motoserver"
	"ecrscanner/infra/ops/stack"
)

// runnerPlays lists the resource types the local runner plays itself, and so
// leaves out of what moto deploys: moto's SQS answers an event source
// mapping by receiving the queue's messages for a Lambda it cannot run,
// which would race the runner's own poller for every message.
var runnerPlays = map[string]bool{
	"AWS::Lambda::EventSourceMapping": true,
}

// MotoTemplate renders the project's template as JSON for moto's
// CloudFormation. It is the same template with two adaptations: the event
// source mappings, which the local runner plays, are left out, and so are
// outputs that read attributes of resources moto skips, because moto fails
// the whole stack on them instead of skipping them too.
func MotoTemplate(t *stack.Template) ([]byte, error) {
	resources := map[string]any{}
	for id, r := range t.Resources {
		if runnerPlays[r.Type] {
			continue
		}
		res := map[string]any{"Type": r.Type}
		if len(r.Properties) > 0 {
			res["Properties"] = r.Properties
		}
		if r.Condition != "" {
			res["Condition"] = r.Condition
		}
		if len(r.DependsOn) > 0 {
			res["DependsOn"] = r.DependsOn
		}
		resources[id] = res
	}
	outputs := map[string]any{}
	for id, o := range t.Outputs {
		if refersToSkipped(t, o.Value) || refersTo(t, o.Value, runnerPlays) {
			continue
		}
		out := map[string]any{"Value": o.Value}
		if o.Condition != "" {
			out["Condition"] = o.Condition
		}
		outputs[id] = out
	}
	params := map[string]any{}
	for name, p := range t.Parameters {
		param := map[string]any{"Type": p.Type}
		if p.HasDefault {
			param["Default"] = p.Default
		}
		if len(p.AllowedValues) > 0 {
			param["AllowedValues"] = p.AllowedValues
		}
		if p.NoEcho {
			param["NoEcho"] = true
		}
		params[name] = param
	}
	doc := map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Parameters":               params,
		"Resources":                resources,
		"Outputs":                  outputs,
	}
	if len(t.Conditions) > 0 {
		doc["Conditions"] = t.Conditions
	}
	if len(t.Mappings) > 0 {
		doc["Mappings"] = t.Mappings
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("render template for moto: %w", err)
	}
	return b, nil
}

// refersToSkipped reports whether v references (Ref, GetAtt, Sub) a resource
// of a type moto skips.
func refersToSkipped(t *stack.Template, v any) bool {
	return refersTo(t, v, motoserver.CloudFormationSkips)
}

// refersTo reports whether v references (Ref, GetAtt, Sub) a resource of one
// of the types.
func refersTo(t *stack.Template, v any, types map[string]bool) bool {
	switch v := v.(type) {
	case map[string]any:
		for fn, arg := range v {
			switch fn {
			case "Ref":
				if s, ok := arg.(string); ok && types[t.Resources[s].Type] {
					return true
				}
			case "Fn::GetAtt":
				if l, ok := arg.([]any); ok && len(l) > 0 {
					if s, ok := l[0].(string); ok && types[t.Resources[s].Type] {
						return true
					}
				}
			case "Fn::Sub":
				if s, ok := arg.(string); ok {
					for id, r := range t.Resources {
						if types[r.Type] && (strings.Contains(s, "${"+id+"}") || strings.Contains(s, "${"+id+".")) {
							return true
						}
					}
				}
			}
			if refersTo(t, arg, types) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if refersTo(t, e, types) {
				return true
			}
		}
	}
	return false
}
