// Package stack is the project's one model of CloudFormation: the template,
// read into Go values, and a stack deployed from it.
//
// The template is the single description of the deployed pipeline. The local
// runner, which plays the EventBridge Pipe and the Lambda service on moto, and
// the tests read the Pipe's filter, the bus rules, the queues and the functions
// from it through this package, so a local run follows the deployed
// configuration instead of a copy of it.
//
// A deployed stack (Deployed) is the template together with what
// CloudFormation made of it: parameters, outputs and the physical ID of each
// resource. The deployer, verify, replay and the local runner all read it
// through this one type, and evaluate Ref, Fn::Sub, Fn::GetAtt and the
// template's conditions with the one evaluator here, so they cannot disagree
// about which resources a stack has or what a name resolves to.
package stack

import _ "embed"

//go:embed template.yaml
var templateYAML []byte

// Body returns the template as written, for CreateStack and ValidateTemplate.
// The caller owns the returned slice.
func Body() []byte {
	return append([]byte(nil), templateYAML...)
}

// Template is a parsed CloudFormation template. Short-form intrinsic functions
// are in their long form: `!Ref X` reads as map{"Ref": "X"}, `!GetAtt A.B` as
// map{"Fn::GetAtt": []any{"A", "B"}}, `!Sub s` as map{"Fn::Sub": s}, and so on.
type Template struct {
	Description string
	Parameters  map[string]Parameter
	Mappings    map[string]any
	Conditions  map[string]any
	Rules       map[string]any
	Resources   map[string]Resource
	Outputs     map[string]Output
}

// Parameter is a template parameter. Values are strings, as CloudFormation
// passes them; HasDefault tells an empty default from none.
type Parameter struct {
	Type           string
	Description    string
	Default        string
	HasDefault     bool
	AllowedValues  []string
	AllowedPattern string
	NoEcho         bool
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	Type       string
	Properties map[string]any
	Condition  string
	Metadata   map[string]any
	DependsOn  []string
	// DeletionPolicy and UpdateReplacePolicy are the resource's attributes
	// as written ("Retain", "Snapshot", "Delete", ...); empty when unset
	// (CloudFormation's default, Delete) or not a plain string.
	DeletionPolicy      string
	UpdateReplacePolicy string
}

// Output is one entry of the template's Outputs section.
type Output struct {
	Description string
	Value       any
	Condition   string
}
