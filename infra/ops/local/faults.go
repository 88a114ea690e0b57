package local

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ecrscanner/domain"
	"ecrscanner/infra/procgroup"
)

// Hooks for fault-injection runs (infra/ops/chaos): killing a function's
// workers mid-invocation, and publishing images built by the caller.

// KillBusy kills every worker of f, as a crash of its execution
// environments would, but only while at least one of them holds an
// invocation: it returns how many invocations were held (0: nothing was
// running, nothing was killed). The invocations end at once with
// Runtime.ExitError, which is what Lambda reports when the runtime process
// exits during an invocation, and fresh workers are spawned by respawn.
func (f *Function) KillBusy() int {
	f.mu.Lock()
	held := len(f.pending)
	procs := append([]*exec.Cmd(nil), f.procs...)
	f.mu.Unlock()
	if held == 0 {
		return 0
	}
	for _, c := range procs {
		_ = procgroup.Kill(c)
	}
	f.failOrphans("Runtime.ExitError", "Runtime exited with error: signal: killed")
	return held
}

// failOrphans ends every invocation a worker holds with a function error:
// called once all workers are killed, none of them can answer any more, and
// waiting for each invocation's own timeout would only kill their
// replacements in turn.
func (f *Function) failOrphans(errType, msg string) int {
	f.mu.Lock()
	orphans := make([]*invocation, 0, len(f.pending))
	for id, inv := range f.pending {
		orphans = append(orphans, inv)
		delete(f.pending, id)
	}
	f.mu.Unlock()
	for _, inv := range orphans {
		inv.finish(invokeResult{err: &FunctionError{Function: f.Name, Type: errType, Message: fmt.Sprintf("RequestId: %s Error: %s", inv.id, msg)}})
	}
	return len(orphans)
}

// Publish pushes img to repo:tag in this registry and records it in moto's
// ECR, as PushSample does for a random image: a caller that needs the same
// content on every run (a seeded run) builds the image itself.
func (r *Registry) Publish(ctx context.Context, client *ecr.Client, img v1.Image, account, region, repo, tag string) (domain.ImageRef, error) {
	return r.publish(ctx, client, img, account, region, repo, tag)
}
