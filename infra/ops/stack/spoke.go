package stack

import _ "embed"

//go:embed spoke.yaml
var spokeYAML []byte

// SpokeBody returns the text of the spoke template (spoke.yaml), deployed in
// each member account and region of an organization the hub serves.
func SpokeBody() []byte { return append([]byte(nil), spokeYAML...) }

// LoadSpoke parses the spoke template.
func LoadSpoke() (*Template, error) { return Parse(spokeYAML) }
