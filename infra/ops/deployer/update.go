package deployer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// UpdateInput says which stack's function code to replace.
type UpdateInput struct {
	StackName  string
	ModuleRoot string
	// BuildDir receives binaries and zips; empty means <ModuleRoot>/build/deploy.
	BuildDir string
	// Functions limits the update to these handler names (scan, enrich, …);
	// empty means all.
	Functions []string
	Go        string
}

// Updated is one function's code update.
type Updated struct {
	Function string // handler name
	Name     string // deployed function name
	Arch     string
	Size     int64
	// CodeSha256 is the zip's SHA-256 as Lambda reports it (base64).
	CodeSha256 string
	Unchanged  bool
}

// Update rebuilds the functions and replaces their code in place with
// UpdateFunctionCode, leaving the stack, its parameters and the QScanner
// layer alone. Each function is built for the architecture the stack gives
// it. A function whose deployed code already matches is left untouched.
func (d *Deployer) Update(ctx context.Context, in UpdateInput) ([]Updated, error) {
	s, err := d.inspect(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	if !stable(s.Status) {
		return nil, fmt.Errorf("stack %s is %s: its functions cannot be updated now (make status)", in.StackName, s.Status)
	}
	// The stack says which architecture each function runs on; a code
	// update keeps to it.
	declared, err := FunctionTargets(s.Template, paramsOf(s.Params))
	if err != nil {
		return nil, err
	}
	archOf := map[string]string{}
	for _, t := range declared {
		archOf[t.Dir] = t.Arch
	}
	type fn struct {
		dir, name, arch, sha string
	}
	var fns []fn
	var known []string
	for _, f := range s.Template.Functions() {
		known = append(known, f.HandlerDir)
		if len(in.Functions) > 0 && !slices.Contains(in.Functions, f.HandlerDir) {
			continue
		}
		r, ok := s.Resource(f.LogicalID)
		if !ok && !s.Required(f.LogicalID) {
			// Switched off by a condition (EnableSecurityHub=false, …).
			continue
		}
		if !ok || r.PhysicalID == "" {
			return nil, fmt.Errorf("stack %s has no function %s", in.StackName, f.LogicalID)
		}
		cfg, err := d.c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(r.PhysicalID)})
		if err != nil {
			return nil, fmt.Errorf("read function %s: %w", r.PhysicalID, err)
		}
		fns = append(fns, fn{dir: f.HandlerDir, name: r.PhysicalID, arch: archOf[f.HandlerDir], sha: aws.ToString(cfg.CodeSha256)})
	}
	for _, want := range in.Functions {
		if !slices.Contains(known, want) {
			return nil, fmt.Errorf("no function %q in stack %s (functions: %s)", want, in.StackName, strings.Join(known, ", "))
		}
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("stack %s has no functions", in.StackName)
	}
	targets := make([]Target, len(fns))
	for i, f := range fns {
		targets[i] = Target{Dir: f.dir, Arch: f.arch}
	}
	buildDir := in.BuildDir
	if buildDir == "" {
		buildDir = filepath.Join(in.ModuleRoot, "build", "deploy")
	}
	d.say("==> Building %d functions (provided.al2023) into %s", len(targets), buildDir)
	artifacts, err := BuildFunctions(ctx, BuildOptions{ModuleRoot: in.ModuleRoot, OutDir: buildDir, Go: in.Go}, targets)
	if err != nil {
		return nil, err
	}
	var out []Updated
	for i, f := range fns {
		a := artifacts[i]
		zip, err := os.ReadFile(a.Path)
		if err != nil {
			return out, fmt.Errorf("read %s: %w", a.Path, err)
		}
		sum := sha256.Sum256(zip)
		u := Updated{Function: f.dir, Name: f.name, Arch: f.arch, Size: a.Size, CodeSha256: base64.StdEncoding.EncodeToString(sum[:])}
		if u.CodeSha256 == f.sha {
			u.Unchanged = true
			d.say("    %-8s %s unchanged", f.dir, f.name)
			out = append(out, u)
			continue
		}
		if _, err := d.c.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
			FunctionName:  aws.String(f.name),
			ZipFile:       zip,
			Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(f.arch)},
		}); err != nil {
			return out, fmt.Errorf("update code of function %s: %w", f.name, err)
		}
		if err := d.waitFunctionUpdated(ctx, f.name); err != nil {
			return out, err
		}
		d.say("    %-8s %s updated (%s, %s)", f.dir, f.name, f.arch, humanBytes(a.Size))
		out = append(out, u)
	}
	return out, nil
}

// stable reports whether a stack with this status has all its resources in
// place and no operation under way.
func stable(status string) bool {
	switch status {
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE":
		return true
	}
	return false
}

// maxUpdatePolls bounds the wait for one function's update: Lambda finishes
// one in seconds.
const maxUpdatePolls = 60

// waitFunctionUpdated waits until Lambda has finished applying the new code,
// so the next invocation runs it.
func (d *Deployer) waitFunctionUpdated(ctx context.Context, name string) error {
	for i := 0; i < maxUpdatePolls; i++ {
		cfg, err := d.c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("read function %s: %w", name, err)
		}
		switch cfg.LastUpdateStatus {
		case lambdatypes.LastUpdateStatusFailed:
			return fmt.Errorf("update of function %s failed: %s: %s", name, cfg.LastUpdateStatusReasonCode, aws.ToString(cfg.LastUpdateStatusReason))
		case lambdatypes.LastUpdateStatusInProgress:
		default:
			return nil
		}
		if err := d.sleep(ctx); err != nil {
			return fmt.Errorf("wait for function %s: %w", name, err)
		}
	}
	return errors.New("function " + name + " is still updating: check make status")
}
