// Package motocompat says where moto falls short of AWS for the operator
// tooling that runs against it, and papers over what it can. The deployer
// reads as an AWS deployer and takes this knowledge through its Emulator
// seam, so moto's quirks live here, next to the moto harness, instead of in
// branches through the deployer.
package motocompat

import (
	"bytes"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"ecrscanner/infra/ops/motoserver"
)

// Emulator is moto as the deployer sees it (deployer.Emulator). The zero
// value is ready to use.
type Emulator struct{}

// Name is "moto".
func (Emulator) Name() string { return "moto" }

// Creates reports whether moto's CloudFormation creates resources of the
// type; it skips those in motoserver.CloudFormationSkips.
func (Emulator) Creates(resourceType string) bool {
	return !motoserver.CloudFormationSkips[resourceType]
}

// ignored lists, by resource type, the properties moto's CloudFormation
// drops: a function it creates runs on moto's default architecture and has
// no layers, whatever the template says.
var ignored = map[string]map[string]bool{
	"AWS::Lambda::Function": {"Architectures": true, "Layers": true},
}

// Ignores reports whether moto's CloudFormation ignores the property.
func (Emulator) Ignores(resourceType, property string) bool {
	return ignored[resourceType][property]
}

// LambdaOptions fix the types of moto's Lambda responses (LambdaTypeFix).
func (Emulator) LambdaOptions() []func(*lambda.Options) {
	return []func(*lambda.Options){LambdaTypeFix}
}

// StackOperationOptions turn retries off for stack operations: moto ignores
// request tokens, and its retried UpdateStack after an internal error
// answers "No updates are to be performed", which would read as success.
func (Emulator) StackOperationOptions() []func(*cloudformation.Options) {
	return []func(*cloudformation.Options){func(o *cloudformation.Options) { o.RetryMaxAttempts = 1 }}
}

// AdaptTemplate gives moto DeletionPolicy Retain where the template says
// RetainExceptOnCreate: moto keeps a resource on stack deletion only for the
// exact value "Retain" (moto/cloudformation/parsing.py), and would delete
// the rest, where AWS keeps them. The difference, a failed creation's
// rollback, is one moto never reaches.
func (Emulator) AdaptTemplate(body []byte) []byte {
	return bytes.ReplaceAll(body, []byte("DeletionPolicy: RetainExceptOnCreate"), []byte("DeletionPolicy: Retain"))
}
