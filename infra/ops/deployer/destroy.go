package deployer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"gopkg.in/yaml.v3"

	"ecrscanner/infra/ops/stack"
)

// DestroyInput says which stack to delete.
type DestroyInput struct {
	StackName string
	// ArtifactsBucket is the bucket deploy used; empty means
	// DefaultArtifactsBucket. It is deleted only if deploy created it for
	// this stack.
	ArtifactsBucket string
	// Confirm is shown the plan and says whether to go ahead; nil means yes.
	Confirm func(plan string) (bool, error)
}

// ErrNotConfirmed is returned by Destroy when Confirm declines.
var ErrNotConfirmed = errors.New("not confirmed: nothing was deleted")

// maxCount bounds how many objects are counted for the plan.
const maxCount = 100000

// destroyPlan is what Destroy will do, decided before anything is deleted.
type destroyPlan struct {
	stackName, region string
	// stack is the stack to delete; nil when it does not exist.
	stack *stack.Deployed
	// artifacts is the artifacts bucket; ownArtifacts says deploy created
	// it for this stack, and so that it is deleted too.
	artifacts       string
	ownArtifacts    bool
	artifactObjects int
	// empty are the stack's buckets to empty so CloudFormation can delete
	// them; kept those their DeletionPolicy retains.
	empty, kept []bucketPlan
	// retained are the stack's other resources its DeletionPolicy keeps
	// (the key, tables, secret, queues): CloudFormation leaves them behind.
	retained []retainedResource
}

type retainedResource struct {
	logicalID, typ, physicalID string
}

type bucketPlan struct {
	logicalID string
	name      string
	objects   int
}

// Destroy deletes the stack. CloudFormation cannot delete a non-empty
// bucket, so first it empties the stack's buckets whose DeletionPolicy lets
// CloudFormation delete them; buckets it retains (the scan results) are left
// as they are and listed at the end, as are the other resources the
// template retains (the key, tables, secret and queues). After the stack is gone it empties and
// deletes the artifacts bucket, if deploy created it for this stack. Nothing
// is deleted unless Confirm agrees to the plan it is shown.
func (d *Deployer) Destroy(ctx context.Context, in DestroyInput) error {
	if in.StackName == "" {
		return errors.New("destroy: no stack name")
	}
	p, err := d.planDestroy(ctx, in)
	if err != nil {
		return err
	}
	if p.stack == nil && !p.ownArtifacts {
		d.say("Stack %s does not exist in %s, and there is no artifacts bucket %s made for it: nothing to delete.", in.StackName, d.reg, p.artifacts)
		return nil
	}
	if err := d.planBuckets(ctx, p); err != nil {
		return err
	}
	if err := d.confirm(p, in.Confirm); err != nil {
		return err
	}
	return d.destroy(ctx, p)
}

// planDestroy finds the stack and the artifacts bucket. A stack busy with
// an operation other than its deletion is refused.
func (d *Deployer) planDestroy(ctx context.Context, in DestroyInput) (*destroyPlan, error) {
	p := &destroyPlan{stackName: in.StackName, region: d.reg, artifacts: in.ArtifactsBucket}
	if p.artifacts == "" {
		id, err := d.c.Identity.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("find the AWS account: %w", err)
		}
		if p.artifacts, err = DefaultArtifactsBucket(in.StackName, aws.ToString(id.Account), d.reg); err != nil {
			return nil, err
		}
	}
	s, err := d.inspect(ctx, in.StackName)
	switch {
	case errors.Is(err, ErrStackNotFound):
	case err != nil:
		return nil, err
	case strings.HasSuffix(s.Status, "_IN_PROGRESS") && s.Status != "DELETE_IN_PROGRESS":
		return nil, fmt.Errorf("stack %s is %s: wait for that to finish (make status), then destroy again", in.StackName, s.Status)
	default:
		p.stack = s
	}
	if p.ownArtifacts, err = d.ownedArtifactsBucket(ctx, p.artifacts, in.StackName); err != nil {
		return nil, err
	}
	return p, nil
}

// planBuckets sorts the stack's buckets into those to empty and those
// kept, and counts the objects to delete.
func (d *Deployer) planBuckets(ctx context.Context, p *destroyPlan) error {
	if err := d.planStackBuckets(ctx, p); err != nil {
		return err
	}
	if !p.ownArtifacts {
		return nil
	}
	var err error
	p.artifactObjects, err = d.countObjects(ctx, p.artifacts, maxCount)
	return err
}

// planStackBuckets sorts the stack's buckets by their DeletionPolicy.
func (d *Deployer) planStackBuckets(ctx context.Context, p *destroyPlan) error {
	if p.stack == nil {
		return nil
	}
	policies, err := DeletionPolicies(p.stack.RawTemplate)
	if err != nil {
		return fmt.Errorf("read deletion policies of stack %s: %w", p.stackName, err)
	}
	for _, r := range p.stack.Resources {
		if r.PhysicalID == "" {
			continue
		}
		if r.Type != "AWS::S3::Bucket" {
			if policy, ok := policies[r.LogicalID]; ok && policy != "Delete" {
				p.retained = append(p.retained, retainedResource{logicalID: r.LogicalID, typ: r.Type, physicalID: r.PhysicalID})
			}
			continue
		}
		b := bucketPlan{logicalID: r.LogicalID, name: r.PhysicalID}
		if policy, ok := policies[r.LogicalID]; ok && policy != "Delete" {
			p.kept = append(p.kept, b)
			continue
		}
		if b.objects, err = d.countObjects(ctx, b.name, maxCount); err != nil {
			if notFound(err) {
				continue
			}
			return err
		}
		p.empty = append(p.empty, b)
	}
	return nil
}

// String is the plan as the operator is asked to confirm it.
func (p *destroyPlan) String() string {
	var b strings.Builder
	if p.stack != nil {
		fmt.Fprintf(&b, "This deletes stack %s (%d resources) in %s.\n", p.stackName, len(p.stack.Resources), p.region)
	} else {
		fmt.Fprintf(&b, "Stack %s does not exist in %s.\n", p.stackName, p.region)
	}
	for _, e := range p.empty {
		fmt.Fprintf(&b, "  empty bucket %s (%s, %s) so CloudFormation can delete it\n", e.name, e.logicalID, countText(e.objects))
	}
	if p.ownArtifacts {
		fmt.Fprintf(&b, "  empty and delete the artifacts bucket %s (%s)\n", p.artifacts, countText(p.artifactObjects))
	}
	for _, k := range p.kept {
		fmt.Fprintf(&b, "  keep bucket %s (%s): its DeletionPolicy retains it\n", k.name, k.logicalID)
	}
	for _, r := range p.retained {
		fmt.Fprintf(&b, "  keep %s %s (%s): its DeletionPolicy retains it\n", r.typ, r.physicalID, r.logicalID)
	}
	return b.String()
}

// confirm shows the plan to the operator's Confirm, or prints it when there
// is none to ask.
func (d *Deployer) confirm(p *destroyPlan, confirm func(plan string) (bool, error)) error {
	if confirm == nil {
		d.say("%s", strings.TrimRight(p.String(), "\n"))
		return nil
	}
	ok, err := confirm(p.String())
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotConfirmed
	}
	return nil
}

// destroy carries the plan out: empty the buckets CloudFormation is to
// delete, delete the stack, then the artifacts bucket, and name the buckets
// kept.
func (d *Deployer) destroy(ctx context.Context, p *destroyPlan) error {
	for _, b := range p.empty {
		n, err := d.emptyBucket(ctx, b.name)
		if err != nil {
			return err
		}
		d.say("==> Emptied bucket %s (%s)", b.name, countText(n))
	}
	if p.stack != nil {
		d.say("==> Deleting stack %s", p.stackName)
		if err := d.deleteAndWait(ctx, p.stack.ID, p.stackName); err != nil {
			return err
		}
		d.say("==> Stack %s deleted", p.stackName)
	}
	if p.ownArtifacts {
		if _, err := d.emptyBucket(ctx, p.artifacts); err != nil {
			return err
		}
		if _, err := d.c.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(p.artifacts)}); err != nil {
			return fmt.Errorf("delete artifacts bucket %s: %w", p.artifacts, err)
		}
		d.say("==> Deleted artifacts bucket %s", p.artifacts)
	}
	for _, b := range p.kept {
		d.say("Kept bucket %s (%s, DeletionPolicy retains it). To delete it too: aws s3 rb s3://%s --force (versioned: empty every version first)", b.name, b.logicalID, b.name)
	}
	for _, r := range p.retained {
		d.say("Kept %s %s (%s, DeletionPolicy retains it); delete it yourself when its data is no longer needed", r.typ, r.physicalID, r.logicalID)
	}
	return nil
}

func countText(n int) string {
	switch {
	case n >= maxCount:
		return fmt.Sprintf("%d+ objects", maxCount)
	case n == 1:
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}

// DeletionPolicies reads each resource's DeletionPolicy from a template
// (YAML or JSON). A resource without one is absent from the map (AWS's
// default, Delete, for buckets); one whose policy is an intrinsic function
// reads "unknown", which callers must treat as retained.
func DeletionPolicies(template []byte) (map[string]string, error) {
	var doc struct {
		Resources map[string]struct {
			DeletionPolicy any `yaml:"DeletionPolicy"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	out := map[string]string{}
	for id, r := range doc.Resources {
		switch p := r.DeletionPolicy.(type) {
		case nil:
		case string:
			out[id] = p
		default:
			out[id] = "unknown"
		}
	}
	return out, nil
}
