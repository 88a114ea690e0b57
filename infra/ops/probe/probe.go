// Package probe proves a deployed pipeline end to end: it pushes a tiny probe
// image, with a planted fake credential, to a probe repository of its own and
// follows it through every stage (scan, bus event, archive, tags and
// referrer, alert, Security Hub finding, trace), timing each from the push,
// then removes everything it made. It is operator code (ecrscan verify
// --probe); no function links it. It runs with the operator's credentials.
//
// The same code runs against AWS and against the local stack on moto: only
// the push differs (Registry), and stages an emulator cannot show are
// skipped with its reason (Options.NoTraces), never faked.
package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/stack"
)

// DefaultRepository is the probe's own repository. The probe pushes nowhere
// else.
const DefaultRepository = "ecrscan-probe"

// NamePrefix starts the name of every temporary resource the probe makes
// (rule, queue), so that an operator sees what they are.
const NamePrefix = "ecrscan-probe-"

// Registry pushes the probe image where the pipeline sees pushes. On AWS
// that is ECR (ECRRegistry), which emits the push event itself; the local
// stack's stand-in pushes to its registry, records the image in moto's ECR
// and puts the push event on the default bus as ECR would.
type Registry interface {
	Push(ctx context.Context, account, region, repo, tag string, img v1.Image) (domain.ImageRef, error)
	// Referrers lists the digests of the artifacts that refer to ref.
	Referrers(ctx context.Context, ref domain.ImageRef) ([]string, error)
}

// Options configure a probe run.
type Options struct {
	StackName string
	// Repository is the probe repository; DefaultRepository when empty.
	Repository string
	// Timeout bounds the wait for the stages after the push (default 5
	// minutes); Poll is how often they are looked at (default 2 seconds).
	Timeout, Poll time.Duration
	// Keep leaves the probe's image, record, archive object, findings and
	// temporary resources in place for inspection.
	Keep bool
	// NoTraces, when set, is why traces cannot be read here (an emulator
	// without X-Ray); the trace stage is then skipped with it.
	NoTraces string
}

// Prober runs probes against one account and region. It is not safe for
// concurrent use.
type Prober struct {
	c    Clients
	reg  Registry
	opts Options
}

// New returns a Prober calling AWS through c (NewClients: the operator's
// credentials) and pushing through reg.
func New(c Clients, reg Registry, opts Options) (*Prober, error) {
	if reg == nil {
		return nil, errors.New("probe: no registry to push to")
	}
	if m := c.missing(); len(m) > 0 {
		return nil, fmt.Errorf("probe: nil clients: %s", strings.Join(m, ", "))
	}
	if opts.StackName == "" {
		return nil, errors.New("probe: no stack name")
	}
	if opts.Repository == "" {
		opts.Repository = DefaultRepository
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	return &Prober{c: c, reg: reg, opts: opts}, nil
}

// run is the state of one probe run.
type run struct {
	p     *Prober
	id    string
	st    *stack.Deployed
	ref   domain.ImageRef
	temp  temporaries
	seen  observations
	pushT time.Time
}

// Run probes the stack once and always cleans up after itself (unless Keep),
// also when ctx is cancelled (Ctrl-C) or a stage fails. Stage failures are in
// the report; the error is only for an interrupted run.
func (p *Prober) Run(ctx context.Context) (rep Report, err error) {
	r := &run{p: p, id: newRunID()}
	rep = Report{Stack: p.opts.StackName, Run: r.id}
	st, err := stack.Describe(ctx, p.c.CloudFormation, p.opts.StackName, nil)
	if err != nil {
		rep.add(StageStack, deployer.Fail, 0, "%v", err)
		rep.Stages[0].Cause = "the probe's own permissions: cloudformation:DescribeStacks, ListStackResources and GetTemplate (README: verify --probe)"
		if errors.Is(err, stack.ErrNotFound) {
			rep.Stages[0].Cause = "deploy it first (make deploy), or set STACK_NAME and AWS_REGION to where it is"
		}
		return rep, ctx.Err()
	}
	// The template resolves names moto's CloudFormation does not list (the
	// bus), as it resolved them for CloudFormation.
	st.ReadTemplate(ctx, p.c.CloudFormation)
	r.st = st
	rep.add(StageStack, deployer.Pass, 0, "%s is %s in %s", st.Name, st.Status, st.Region)
	// rep is a named result so that the clean-up's line reaches the caller.
	defer func() { rep.Stages = append(rep.Stages, r.cleanup(context.WithoutCancel(ctx), ctx.Err() != nil)) }()
	if err := r.prepare(ctx); err != nil {
		if ctx.Err() != nil {
			rep.add(StagePush, deployer.Fail, 0, "interrupted before the push was confirmed")
			return rep, ctx.Err()
		}
		rep.add(StagePush, deployer.Fail, 0, "%v", err)
		rep.Stages[len(rep.Stages)-1].Cause = "the probe's own permissions (README: verify --probe) or the probe repository " + p.opts.Repository
		return rep, ctx.Err()
	}
	rep.Image, rep.Digest = r.ref.Display(), r.ref.Digest.String()
	rep.add(StagePush, deployer.Pass, 0, "%s", r.ref.Display())
	rep.Stages = append(rep.Stages, r.follow(ctx)...)
	return rep, ctx.Err()
}

// prepare builds the image, makes the temporary rule, queue and
// subscription that watch for it (before the push, so nothing is missed),
// and pushes it.
func (r *run) prepare(ctx context.Context) error {
	img, err := Image(r.id)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if err := r.p.ensureRepository(ctx, r.st); err != nil {
		return err
	}
	// The tag names the run, so a kept probe image is easy to find.
	tag := r.id
	// The planned reference, for the watchers and the clean-up until the push
	// confirms it.
	if r.ref, err = domain.NewImageRef(r.st.Account, r.st.Region, r.p.opts.Repository, d.String(), tag); err != nil {
		return err
	}
	if err := r.watch(ctx); err != nil {
		return err
	}
	r.pushT = time.Now()
	ref, err := r.p.reg.Push(ctx, r.st.Account, r.st.Region, r.p.opts.Repository, tag, img)
	if err != nil {
		return fmt.Errorf("push %s: %w", r.ref.Display(), err)
	}
	if ref.Digest != r.ref.Digest {
		return fmt.Errorf("push %s: the registry stored digest %s", r.ref.Display(), ref.Digest)
	}
	r.ref = ref
	return nil
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b)
}

// physical is the physical ID (name, URL or ARN) of a stack resource, "" when
// the stack has none.
func (r *run) physical(logicalID string) string {
	v, err := r.st.Ref(logicalID)
	if err != nil {
		return ""
	}
	return v
}
