package probe_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/probe"
	"ecrscanner/infra/ops/stack"
)

// noPush is a registry the probe must not reach: it fails the test if used.
type noPush struct{ t *testing.T }

func (n noPush) Push(context.Context, string, string, string, string, v1.Image) (domain.ImageRef, error) {
	n.t.Error("the probe pushed")
	return domain.ImageRef{}, errors.New("no push")
}

func (n noPush) Referrers(context.Context, domain.ImageRef) ([]string, error) { return nil, nil }

// TestProbeOfAMissingStack: a stack that is not deployed is one FAIL line
// saying so and what to do, and the probe makes nothing (no repository, no
// queue) and pushes nothing.
func TestProbeOfAMissingStack(t *testing.T) {
	cfg := operator(t)
	repo := mototest.UniqueName("probe-missing")
	pr, err := probe.New(probe.NewClients(cfg), noPush{t}, probe.Options{StackName: mototest.UniqueName("not-deployed"), Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stages) != 1 || rep.Stages[0].Name != probe.StageStack || rep.Stages[0].Result != deployer.Fail ||
		!strings.Contains(rep.Stages[0].Detail, "does not exist") || !strings.Contains(rep.Stages[0].Cause, "make deploy") {
		t.Errorf("report %+v; want one stack FAIL saying it does not exist and how to deploy", rep.Stages)
	}
	_, err = ecr.NewFromConfig(cfg).DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{repo}})
	var missing *ecrtypes.RepositoryNotFoundException
	if !errors.As(err, &missing) {
		t.Errorf("probe repository: %v; want none made", err)
	}
	if qs, err := sqs.NewFromConfig(cfg).ListQueues(context.Background(), &sqs.ListQueuesInput{QueueNamePrefix: aws.String(probe.NamePrefix + rep.Run)}); err != nil || len(qs.QueueUrls) > 0 {
		t.Errorf("queues %v (%v); want none made", qs.QueueUrls, err)
	}
}

// TestProbeRefusesAnotherRepository: pointed at a repository it did not
// create (no probe tag), the probe refuses it before any push and leaves it
// as it was (no lifecycle policy), and its clean-up has nothing to remove.
func TestProbeRefusesAnotherRepository(t *testing.T) {
	ctx, cfg := context.Background(), operator(t)
	d, err := local.Deploy(ctx, cfg, local.DeployOptions{StackName: mototest.UniqueName("probe-foreign"), Params: map[string]string{"QualysAccessToken": "probe-test-token"}})
	if err != nil {
		t.Fatal(err)
	}
	repo := mototest.UniqueName("someone-elses")
	client := ecr.NewFromConfig(cfg)
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	pr, err := probe.New(probe.NewClients(cfg), noPush{t}, probe.Options{StackName: d.Name, Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	push, _ := rep.Stage(probe.StagePush)
	if push.Result != deployer.Fail || !strings.Contains(push.Detail, "is not the probe's") {
		t.Errorf("push stage %+v; want FAIL refusing the repository", push)
	}
	if c, _ := rep.Stage(probe.StageCleanup); c.Result != deployer.Pass {
		t.Errorf("cleanup %+v; want PASS with nothing made", c)
	}
	_, err = client.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	var none *ecrtypes.LifecyclePolicyNotFoundException
	if !errors.As(err, &none) {
		t.Errorf("lifecycle policy of the other repository: %v; want none set", err)
	}
}

// TestProbeWithoutItsPermissions runs the probe, under enforced IAM, with
// credentials that may not read the stack (a function's role): one stack
// FAIL naming the permission the probe needs, and nothing made.
func TestProbeWithoutItsPermissions(t *testing.T) {
	ctx, cfg := context.Background(), operator(t)
	d, err := local.Deploy(ctx, cfg, local.DeployOptions{StackName: mototest.UniqueName("probe-perm"), Params: map[string]string{"QualysAccessToken": "probe-test-token"}})
	if err != nil {
		t.Fatal(err)
	}
	name, err := d.Ref("AlertRole") // a role's Ref is its name; the template's roles have the path "/"
	if err != nil {
		t.Fatal(err)
	}
	role := stack.ARN(d.Partition, "iam", "", d.Account, "role/"+name)
	m := mototest.Server(t)
	creds, err := m.AssumeRoleAs(ctx, "lambda.amazonaws.com", role, "probe-test", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnforceIAM(ctx); err != nil { // the operator's admin user is made already
		t.Fatal(err)
	}
	weak := cfg.Copy()
	weak.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	pr, err := probe.New(probe.NewClients(weak), noPush{t}, probe.Options{StackName: d.Name, Repository: mototest.UniqueName("probe-perm")})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stages) != 1 || rep.Stages[0].Result != deployer.Fail || !strings.Contains(rep.Stages[0].Detail, "AccessDenied") ||
		!strings.Contains(rep.Stages[0].Cause, "cloudformation:DescribeStacks") {
		t.Errorf("report %+v; want one stack FAIL, AccessDenied, naming cloudformation:DescribeStacks", rep.Stages)
	}
	if qs, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(probe.NamePrefix + rep.Run)}); err != nil || len(qs.QueueUrls) > 0 {
		t.Errorf("queues %v (%v); want none made", qs.QueueUrls, err)
	}
}
