package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/domain"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/motocompat"
	"ecrscanner/infra/ops/motoserver"
)

// The make-run organization demo: the local stack is deployed as the hub of
// an organization with one member account, which pushes an image in another
// region; the hub scans it and tags it back in the member's own registry.
// moto keeps the accounts apart by the credentials' account; moto delivers
// the spoke rule's cross-account, cross-region bus target as AWS does once
// motoserver's orgPatches hold it to the documented behaviour.
const (
	demoOrganization = "o-localdemo01"
	demoMember       = "111122223333"
	demoMemberRegion = "us-west-2"
)

// orgParams deploys the local stack as the demo organization's hub.
func orgParams(params map[string]string) {
	params["OrganizationId"] = demoOrganization
	params["MemberAccounts"] = demoMember
	params["ServedRegions"] = local.Region + "," + demoMemberRegion
}

// orgDemo deploys the member's spoke stacks, pushes an image in its
// registry and shows the hub scanning it and tagging it there.
func (r *localRun) orgDemo(ctx context.Context, st *localStack) error {
	member, err := r.memberConfig(ctx, st)
	if err != nil {
		return fmt.Errorf("organization demo: %w", err)
	}
	r.say("org      member account %s: deploying infra/ops/stack/spoke.yaml in %s (the spoke role) and %s (forwarding) …", demoMember, local.Region, demoMemberRegion)
	for _, region := range []string{local.Region, demoMemberRegion} {
		if err := deploySpoke(ctx, member, region, st.pipeline.Deployment.Name); err != nil {
			return fmt.Errorf("organization demo: spoke in %s: %w", region, err)
		}
	}
	member.Region = demoMemberRegion
	ref, err := st.reg.PushSample(ctx, ecr.NewFromConfig(member), demoMember, demoMemberRegion, "member/app", "v1")
	if err != nil {
		return fmt.Errorf("organization demo: push: %w", err)
	}
	start := time.Now()
	r.say("org      push %s in account %s, %s → its spoke rule forwards it to the hub's ingress bus", ref.Display(), demoMember, demoMemberRegion)
	if err := putEvent(ctx, member, local.PushEvent(ref, start)); err != nil {
		return fmt.Errorf("organization demo: %w", err)
	}
	return r.watchMember(ctx, st, member, ref, start)
}

func (r *localRun) memberConfig(ctx context.Context, st *localStack) (aws.Config, error) {
	key, err := motoserver.CreateAdminAt(ctx, aws.ToString(st.cfg.BaseEndpoint), demoMember, "ecrscan-local-member")
	if err != nil {
		return aws.Config{}, err
	}
	cfg := st.cfg.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	return cfg, nil
}

func deploySpoke(ctx context.Context, cfg aws.Config, region, hubStack string) error {
	cfg = cfg.Copy()
	cfg.Region = region
	emu := motocompat.Emulator{}
	d, err := deployer.New(deployer.NewClients(cfg, emu), deployer.Options{Region: region, Out: io.Discard, PollInterval: 100 * time.Millisecond, Emulator: emu})
	if err != nil {
		return err
	}
	_, err = d.DeploySpoke(ctx, deployer.SpokeOptions{HubAccount: local.Account, HubRegion: local.Region, HubStackName: hubStack})
	return err
}

// watchMember waits for the hub's record of the member's image and for the
// scan labels on the member's repository, in the member's registry.
func (r *localRun) watchMember(ctx context.Context, st *localStack, member aws.Config, ref domain.ImageRef, start time.Time) error {
	obs := st.pipeline.Observer(st.cfg)
	arn := local.RepositoryARN(ref)
	scanned, tagged := false, false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline) && !(scanned && tagged); time.Sleep(200 * time.Millisecond) {
		if rec, ok, err := obs.Record(ctx, ref.Digest); !scanned && err == nil && ok && rec.Status == domain.StatusCompleted {
			scanned = true
			r.say("org      +%v scanned by the hub (scan %s): QScanner (without QSCANNER_BIN, the test stand-in) was given the spoke role's credentials for %s in its environment", time.Since(start).Round(time.Millisecond), short(rec.ScanID), ref.Registry())
		}
		out, err := ecr.NewFromConfig(member).ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil || tagged {
			continue
		}
		for _, t := range out.Tags {
			if aws.ToString(t.Key) == ecrstore.LabelLastDigest && aws.ToString(t.Value) == ref.Digest.String() {
				tagged = true
				r.say("org      +%v tagged in the member's own registry: %s (%d scan labels)", time.Since(start).Round(time.Millisecond), arn, len(out.Tags))
			}
		}
	}
	if !scanned || !tagged {
		return errors.New("organization demo: the member's push was not scanned and tagged back within 90s")
	}
	return nil
}
