package stack

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load parses the embedded template.
func Load() (*Template, error) {
	return Parse(templateYAML)
}

// Parse parses a CloudFormation template written in YAML (JSON is YAML too).
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	raw, err := convert(&doc)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("parse template: top level is not a mapping")
	}
	t := &Template{
		Parameters: map[string]Parameter{},
		Mappings:   mapOf(top["Mappings"]),
		Conditions: mapOf(top["Conditions"]),
		Rules:      mapOf(top["Rules"]),
		Resources:  map[string]Resource{},
		Outputs:    map[string]Output{},
	}
	t.Description, _ = top["Description"].(string)
	for name, v := range mapOf(top["Parameters"]) {
		p, err := parseParameter(v)
		if err != nil {
			return nil, fmt.Errorf("parse template: parameter %s: %w", name, err)
		}
		t.Parameters[name] = p
	}
	resources := mapOf(top["Resources"])
	if len(resources) == 0 {
		return nil, errors.New("parse template: no resources")
	}
	for id, v := range resources {
		r, err := parseResource(v)
		if err != nil {
			return nil, fmt.Errorf("parse template: resource %s: %w", id, err)
		}
		t.Resources[id] = r
	}
	for name, v := range mapOf(top["Outputs"]) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse template: output %s is not a mapping", name)
		}
		o := Output{Value: m["Value"]}
		o.Description, _ = m["Description"].(string)
		o.Condition, _ = m["Condition"].(string)
		t.Outputs[name] = o
	}
	return t, nil
}

func parseParameter(v any) (Parameter, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Parameter{}, errors.New("not a mapping")
	}
	var p Parameter
	p.Type, _ = m["Type"].(string)
	if p.Type == "" {
		return Parameter{}, errors.New("no Type")
	}
	p.Description, _ = m["Description"].(string)
	p.AllowedPattern, _ = m["AllowedPattern"].(string)
	if d, ok := m["Default"]; ok {
		p.Default, p.HasDefault = scalarString(d), true
	}
	if vs, ok := m["AllowedValues"].([]any); ok {
		for _, v := range vs {
			p.AllowedValues = append(p.AllowedValues, scalarString(v))
		}
	}
	p.NoEcho = scalarString(m["NoEcho"]) == "true"
	return p, nil
}

func parseResource(v any) (Resource, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Resource{}, errors.New("not a mapping")
	}
	var r Resource
	r.Type, _ = m["Type"].(string)
	if r.Type == "" {
		return Resource{}, errors.New("no Type")
	}
	r.Properties = mapOf(m["Properties"])
	r.Metadata = mapOf(m["Metadata"])
	r.Condition, _ = m["Condition"].(string)
	r.DeletionPolicy, _ = m["DeletionPolicy"].(string)
	r.UpdateReplacePolicy, _ = m["UpdateReplacePolicy"].(string)
	switch d := m["DependsOn"].(type) {
	case string:
		r.DependsOn = []string{d}
	case []any:
		for _, x := range d {
			r.DependsOn = append(r.DependsOn, scalarString(x))
		}
	}
	return r, nil
}

// cfnTags maps each short-form tag to its long-form key.
var cfnTags = map[string]string{
	"!Ref":         "Ref",
	"!Condition":   "Condition",
	"!Sub":         "Fn::Sub",
	"!GetAtt":      "Fn::GetAtt",
	"!If":          "Fn::If",
	"!Equals":      "Fn::Equals",
	"!Not":         "Fn::Not",
	"!And":         "Fn::And",
	"!Or":          "Fn::Or",
	"!Select":      "Fn::Select",
	"!Join":        "Fn::Join",
	"!Split":       "Fn::Split",
	"!FindInMap":   "Fn::FindInMap",
	"!Base64":      "Fn::Base64",
	"!ImportValue": "Fn::ImportValue",
	"!Cidr":        "Fn::Cidr",
	"!GetAZs":      "Fn::GetAZs",
}

// convert turns a YAML node into plain Go values (map[string]any, []any,
// string, int, float64, bool, nil), rewriting CloudFormation's short-form tags
// into their long-form maps.
func convert(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty document")
		}
		return convert(n.Content[0])
	case yaml.AliasNode:
		return convert(n.Alias)
	}
	if key, ok := cfnTags[n.Tag]; ok {
		return convertTagged(key, n)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: merge keys are not CloudFormation", k.Line)
			}
			cv, err := convert(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = cv
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			cv, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, cv)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

func convertTagged(key string, n *yaml.Node) (any, error) {
	if n.Kind == yaml.ScalarNode {
		// The tag replaces YAML's type resolution: `!Ref 30` names "30".
		if key == "Fn::GetAtt" {
			resource, attr, ok := strings.Cut(n.Value, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, n.Value)
			}
			return map[string]any{key: []any{resource, attr}}, nil
		}
		return map[string]any{key: n.Value}, nil
	}
	plain := *n
	plain.Tag = ""
	switch n.Kind {
	case yaml.SequenceNode:
		plain.Tag = "!!seq"
	case yaml.MappingNode:
		plain.Tag = "!!map"
	}
	v, err := convert(&plain)
	if err != nil {
		return nil, err
	}
	return map[string]any{key: v}, nil
}
