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

	"ecrscanner/infra/ops/stack"
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

// codeTarget is a deployed function whose code Update replaces.
type codeTarget struct {
	dir, name, arch string
	// sha is the deployed code's SHA-256 as Lambda reports it.
	sha string
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
	fns, err := d.codeTargets(ctx, s, in.Functions)
	if err != nil {
		return nil, err
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
		u, err := d.replaceCode(ctx, f, artifacts[i])
		if err != nil {
			return out, err
		}
		out = append(out, u)
	}
	return out, nil
}

// codeTargets lists the stack's deployed functions, or those of them named
// (by handler name), with the architecture the stack gives each. Functions
// a condition switched off are left out; an unknown name is refused.
func (d *Deployer) codeTargets(ctx context.Context, s *stack.Deployed, names []string) ([]codeTarget, error) {
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
	var fns []codeTarget
	var known []string
	for _, f := range s.Template.Functions() {
		known = append(known, f.HandlerDir)
		if len(names) > 0 && !slices.Contains(names, f.HandlerDir) {
			continue
		}
		r, ok := s.Resource(f.LogicalID)
		if !ok && !s.Created(f.LogicalID) {
			// Switched off by a condition (EnableSecurityHub=false, …).
			continue
		}
		if !ok || r.PhysicalID == "" {
			return nil, fmt.Errorf("stack %s has no function %s", s.Name, f.LogicalID)
		}
		cfg, err := d.c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(r.PhysicalID)})
		if err != nil {
			return nil, fmt.Errorf("read function %s: %w", r.PhysicalID, err)
		}
		fns = append(fns, codeTarget{dir: f.HandlerDir, name: r.PhysicalID, arch: archOf[f.HandlerDir], sha: aws.ToString(cfg.CodeSha256)})
	}
	for _, want := range names {
		if !slices.Contains(known, want) {
			return nil, fmt.Errorf("no function %q in stack %s (functions: %s)", want, s.Name, strings.Join(known, ", "))
		}
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("stack %s has no functions", s.Name)
	}
	return fns, nil
}

// replaceCode puts the built zip in place as the function's code, unless
// the function already runs it, and waits until Lambda has applied it.
func (d *Deployer) replaceCode(ctx context.Context, f codeTarget, a Artifact) (Updated, error) {
	zip, err := os.ReadFile(a.Path)
	if err != nil {
		return Updated{}, fmt.Errorf("read %s: %w", a.Path, err)
	}
	sum := sha256.Sum256(zip)
	u := Updated{Function: f.dir, Name: f.name, Arch: f.arch, Size: a.Size, CodeSha256: base64.StdEncoding.EncodeToString(sum[:])}
	if u.CodeSha256 == f.sha {
		u.Unchanged = true
		d.say("    %-8s %s unchanged", f.dir, f.name)
		return u, nil
	}
	if _, err := d.c.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
		FunctionName:  aws.String(f.name),
		ZipFile:       zip,
		Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(f.arch)},
	}); err != nil {
		return Updated{}, fmt.Errorf("update code of function %s: %w", f.name, err)
	}
	if err := d.waitFunctionUpdated(ctx, f.name); err != nil {
		return Updated{}, err
	}
	d.say("    %-8s %s updated (%s, %s)", f.dir, f.name, f.arch, humanBytes(a.Size))
	return u, nil
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
