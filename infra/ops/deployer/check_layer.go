package deployer

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"ecrscanner/infra/ops/stack"
)

// checkLayer checks that the function using the QScanner layer has it
// attached, and that the layer version exists for the function's
// architecture.
func (d *Deployer) checkLayer(ctx context.Context, r *Report, s *stack.Deployed, fns []deployedFunction) {
	var layerID string
	for id, res := range s.Template.Resources {
		if res.Type == "AWS::Lambda::LayerVersion" {
			layerID = id
		}
	}
	if layerID == "" {
		r.add(CheckLayer, Fail, "the template has no layer")
		return
	}
	var user *deployedFunction
	for i, f := range fns {
		if layers, _ := s.Template.Resources[f.spec.LogicalID].Properties["Layers"].([]any); slices.ContainsFunc(layers, func(l any) bool {
			m, _ := l.(map[string]any)
			return m["Ref"] == layerID
		}) {
			user = &fns[i]
		}
	}
	if user == nil {
		r.add(CheckLayer, Fail, "no deployed function uses %s", layerID)
		return
	}
	res, _ := s.Resource(layerID)
	if len(user.layers) == 0 {
		if d.emulatorIgnores(typeFunction, "Layers") && res.PhysicalID == "" {
			r.add(CheckLayer, Skip, "%s's CloudFormation creates %s but reports no ARN for it and ignores the Layers of %s", d.emu.Name(), layerID, user.spec.HandlerDir)
			return
		}
		r.add(CheckLayer, Fail, "function %s has no layers: QScanner is missing at /opt/bin/qscanner", user.name)
		return
	}
	if res.PhysicalID != "" && !slices.Contains(user.layers, res.PhysicalID) {
		r.add(CheckLayer, Fail, "function %s uses %s, not the stack's layer %s", user.name, strings.Join(user.layers, ", "), res.PhysicalID)
		return
	}
	arn := user.layers[0]
	if res.PhysicalID != "" {
		arn = res.PhysicalID
	}
	name, version, err := splitLayerARN(arn)
	if err != nil {
		r.add(CheckLayer, Fail, "%v", err)
		return
	}
	out, err := d.c.Lambda.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String(name), VersionNumber: aws.Int64(version)})
	if err != nil {
		r.add(CheckLayer, Fail, "layer %s: %v", arn, err)
		return
	}
	var archs []string
	for _, a := range out.CompatibleArchitectures {
		archs = append(archs, string(a))
	}
	if len(archs) > 0 && !slices.Contains(archs, user.arch) {
		r.add(CheckLayer, Fail, "layer %s is for %s, function %s runs on %s", arn, strings.Join(archs, ", "), user.spec.HandlerDir, user.arch)
		return
	}
	size := int64(0)
	if out.Content != nil {
		size = out.Content.CodeSize
	}
	r.add(CheckLayer, Pass, "%s version %d attached to %s (%s)", name, version, user.spec.HandlerDir, humanBytes(size))
}

// splitLayerARN reads the name and version of a layer version ARN.
func splitLayerARN(arn string) (string, int64, error) {
	// arn:aws:lambda:<region>:<account>:layer:<name>:<version>
	parts := strings.Split(arn, ":")
	if len(parts) != 8 || parts[5] != "layer" {
		return "", 0, fmt.Errorf("%q is not a layer version ARN", arn)
	}
	v, err := strconv.ParseInt(parts[7], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not a layer version ARN", arn)
	}
	return parts[6], v, nil
}
