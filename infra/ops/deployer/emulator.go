package deployer

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Emulator is a local stand-in for AWS that the deployer can be pointed at
// (AWS_ENDPOINT_URL). It says where it falls short of AWS, so that the
// deployer neither trips over those gaps nor reports them as faults: Verify
// skips, with the emulator's name as the reason, what the emulator cannot
// show. A nil Emulator is AWS itself. The moto implementation lives with the
// moto harness (motocompat.Emulator), so that this package reads as an AWS
// deployer.
//
// Every emulator is taken to be reached over plain HTTP and to have no
// Qualys platform behind it.
type Emulator interface {
	// Name names the emulator in what the deployer reports ("moto").
	Name() string
	// Creates reports whether the emulator's CloudFormation creates
	// resources of the type.
	Creates(resourceType string) bool
	// Ignores reports whether the emulator's CloudFormation ignores the
	// property of resources of the type (and so reports something else
	// than the template asks for).
	Ignores(resourceType, property string) bool
	// LambdaOptions adjust the Lambda client so it can read what the
	// emulator sends.
	LambdaOptions() []func(*lambda.Options)
	// StackOperationOptions adjust the calls that create, update or delete
	// a stack.
	StackOperationOptions() []func(*cloudformation.Options)
	// AdaptTemplate rewrites the template body so that the emulator treats
	// it as AWS treats the original, where the emulator reads a construct
	// differently.
	AdaptTemplate(body []byte) []byte
}

// emulatorSkips reports whether the deployer talks to an emulator that does not
// create resources of the type, and so whether their absence is no fault.
func (d *Deployer) emulatorSkips(resourceType string) bool {
	return d.emu != nil && !d.emu.Creates(resourceType)
}

// emulatorIgnores reports whether the deployer talks to an emulator that
// ignores the property of resources of the type.
func (d *Deployer) emulatorIgnores(resourceType, property string) bool {
	return d.emu != nil && d.emu.Ignores(resourceType, property)
}

// Resource types the emulator may not create, or whose properties it may
// ignore.
const (
	typeFunction = "AWS::Lambda::Function"
	typePipe     = "AWS::Pipes::Pipe"
	typeSecret   = "AWS::SecretsManager::Secret"
)

// notCreated says that the emulator's CloudFormation does not create
// resources of the type, as the reason for a skipped check.
func (d *Deployer) notCreated(resourceType string) string {
	return d.emu.Name() + "'s CloudFormation does not create " + resourceType
}

// stackOperationOptions are the options of CreateStack, UpdateStack and
// DeleteStack: none for AWS.
func (d *Deployer) stackOperationOptions() []func(*cloudformation.Options) {
	if d.emu == nil {
		return nil
	}
	return d.emu.StackOperationOptions()
}
