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

type bucketPlan struct {
	logicalID string
	name      string
	objects   int
}

// Destroy deletes the stack. CloudFormation cannot delete a non-empty
// bucket, so first it empties the stack's buckets whose DeletionPolicy lets
// CloudFormation delete them; buckets it retains (the scan results) are left
// as they are and listed at the end. After the stack is gone it empties and
// deletes the artifacts bucket, if deploy created it for this stack. Nothing
// is deleted unless Confirm agrees to the plan it is shown.
func (d *Deployer) Destroy(ctx context.Context, in DestroyInput) error {
	if in.StackName == "" {
		return errors.New("destroy: no stack name")
	}
	artifacts := in.ArtifactsBucket
	if artifacts == "" {
		id, err := d.c.Identity.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return fmt.Errorf("find the AWS account: %w", err)
		}
		if artifacts, err = DefaultArtifactsBucket(in.StackName, aws.ToString(id.Account), d.reg); err != nil {
			return err
		}
	}
	s, err := d.inspect(ctx, in.StackName)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrStackNotFound) {
		return err
	}
	if exists && strings.HasSuffix(s.Status, "_IN_PROGRESS") && s.Status != "DELETE_IN_PROGRESS" {
		return fmt.Errorf("stack %s is %s: wait for that to finish (make status), then destroy again", in.StackName, s.Status)
	}
	ownArtifacts, err := d.ownedArtifactsBucket(ctx, artifacts, in.StackName)
	if err != nil {
		return err
	}
	if !exists && !ownArtifacts {
		d.say("Stack %s does not exist in %s, and there is no artifacts bucket %s made for it: nothing to delete.", in.StackName, d.reg, artifacts)
		return nil
	}

	var empty, kept []bucketPlan
	if exists {
		policies, err := DeletionPolicies(s.RawTemplate)
		if err != nil {
			return fmt.Errorf("read deletion policies of stack %s: %w", in.StackName, err)
		}
		for _, r := range s.Resources {
			if r.Type != "AWS::S3::Bucket" || r.PhysicalID == "" {
				continue
			}
			b := bucketPlan{logicalID: r.LogicalID, name: r.PhysicalID}
			if policy, ok := policies[r.LogicalID]; ok && policy != "Delete" {
				kept = append(kept, b)
				continue
			}
			if b.objects, err = d.countObjects(ctx, b.name, maxCount); err != nil {
				if notFound(err) {
					continue
				}
				return err
			}
			empty = append(empty, b)
		}
	}
	artifactObjects := 0
	if ownArtifacts {
		if artifactObjects, err = d.countObjects(ctx, artifacts, maxCount); err != nil {
			return err
		}
	}

	var plan strings.Builder
	if exists {
		fmt.Fprintf(&plan, "This deletes stack %s (%d resources) in %s.\n", in.StackName, len(s.Resources), d.reg)
	} else {
		fmt.Fprintf(&plan, "Stack %s does not exist in %s.\n", in.StackName, d.reg)
	}
	for _, b := range empty {
		fmt.Fprintf(&plan, "  empty bucket %s (%s, %s) so CloudFormation can delete it\n", b.name, b.logicalID, countText(b.objects))
	}
	if ownArtifacts {
		fmt.Fprintf(&plan, "  empty and delete the artifacts bucket %s (%s)\n", artifacts, countText(artifactObjects))
	}
	for _, b := range kept {
		fmt.Fprintf(&plan, "  keep bucket %s (%s): its DeletionPolicy retains it\n", b.name, b.logicalID)
	}
	if in.Confirm != nil {
		ok, err := in.Confirm(plan.String())
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotConfirmed
		}
	} else {
		d.say("%s", strings.TrimRight(plan.String(), "\n"))
	}

	for _, b := range empty {
		n, err := d.emptyBucket(ctx, b.name)
		if err != nil {
			return err
		}
		d.say("==> Emptied bucket %s (%s)", b.name, countText(n))
	}
	if exists {
		d.say("==> Deleting stack %s", in.StackName)
		if err := d.deleteAndWait(ctx, s.ID, in.StackName); err != nil {
			return err
		}
		d.say("==> Stack %s deleted", in.StackName)
	}
	if ownArtifacts {
		if _, err := d.emptyBucket(ctx, artifacts); err != nil {
			return err
		}
		if _, err := d.c.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(artifacts)}); err != nil {
			return fmt.Errorf("delete artifacts bucket %s: %w", artifacts, err)
		}
		d.say("==> Deleted artifacts bucket %s", artifacts)
	}
	for _, b := range kept {
		d.say("Kept bucket %s (%s, DeletionPolicy retains it). To delete it too: aws s3 rb s3://%s --force (versioned: empty every version first)", b.name, b.logicalID, b.name)
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
