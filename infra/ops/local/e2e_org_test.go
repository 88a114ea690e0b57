package local_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
)

// The organization: the hub is local.Account in local.Region; member is in
// the allow-list and pushes from memberRegion; outsider is in the
// organization (its spoke forwards) but not in the allow-list; roleless is
// in the allow-list but its spoke has no role (deployed outside the hub's
// region only); mistrusting's spoke role trusts another hub stack's roles.
const (
	orgID        = "o-exampleorg01"
	member       = "111122223333"
	outsider     = "444455556666"
	roleless     = "777788889999"
	mistrusting  = "222233334444"
	memberRegion = "us-west-2"
	unserved     = "eu-west-1"
)

// TestOrganizationEndToEnd runs the hub on moto with IAM enforced and member
// accounts whose spoke stacks (spoke.yaml) forward their pushes to the hub's
// ingress bus: two accounts, two regions, one digest pushed in both. The
// digest is scanned once (QScanner pulling with the member registry's
// region and credentials), the record holds a reference per account, region
// and repository, tags and referrers land in each registry's own account,
// and the alerts and Security Hub findings name account and region. Then
// the refusals: an account outside the allow-list and a region the hub does
// not serve end in ScanDLQ with their reasons, unscanned; a member without
// the spoke role, and one whose role trusts another hub's roles, end in a
// final ScanFailed naming the role.
//
//	ECRSCAN_BUILD_CACHE=shared go test ./infra/ops/local -run TestOrganizationEndToEnd -count=1 -v
func TestOrganizationEndToEnd(t *testing.T) {
	var stackName string
	e, _ := startE2E(t, func(reg *local.Registry, client *ecr.Client) domain.ImageRef {
		ref, err := reg.PushSample(context.Background(), client, local.Account, local.Region, mototest.UniqueName("org/unused"), "v1")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}, func(o *local.PipelineOptions) {
		stackName = o.StackName
		o.Params["OrganizationId"] = orgID
		o.Params["MemberAccounts"] = member + "," + roleless + "," + mistrusting
		o.Params["ServedRegions"] = local.Region + "," + memberRegion
	})
	spokeFor := func(account, region, trusted string) aws.Config {
		cfg := memberAdmin(t, e, account, region)
		d, err := deployer.New(deployer.NewClients(cfg, nil), deployer.Options{Region: region, Out: io.Discard, PollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		o := deployer.SpokeOptions{HubAccount: local.Account, HubRegion: local.Region, HubStackName: trusted, HubEventBus: stackName + "-ingress"}
		if _, err := d.DeploySpoke(e.ctx, o); err != nil {
			t.Fatalf("spoke in %s/%s: %v", account, region, err)
		}
		return cfg
	}
	spoke := func(account, region string) aws.Config { return spokeFor(account, region, stackName) }
	spokeFor(mistrusting, local.Region, "another-hub") // its role trusts another stack's roles
	spoke(member, local.Region)                        // the spoke role (IAM is global) and forwarding from the hub's region
	memberCfg := spoke(member, memberRegion)

	// One content, pushed first in the member's registry in another region,
	// then in the hub's own.
	hubRef, err := e.reg.PushSample(e.ctx, e.ecr, local.Account, local.Region, mototest.UniqueName("org/hub-app"), "v1")
	if err != nil {
		t.Fatal(err)
	}
	memberRef := retagIn(t, e, memberCfg, hubRef, member, memberRegion, mototest.UniqueName("org/member-app"))
	pushIn(t, e, memberCfg, memberRef)
	took := e.eventually("the member's push scanned by the hub", 90*time.Second, func() bool {
		rec, ok, err := e.obs.Record(e.ctx, memberRef.Digest)
		return err == nil && ok && rec.Status == domain.StatusCompleted
	})
	t.Logf("member push %s/%s %s scanned in %v", member, memberRegion, memberRef.Display(), took.Round(time.Millisecond))
	e.push(hubRef)
	e.eventually("a reference per account, region and repository", 60*time.Second, func() bool {
		rec, ok, err := e.obs.Record(e.ctx, hubRef.Digest)
		return err == nil && ok && hasRef(rec, hubRef) && hasRef(rec, memberRef)
	})
	checkOneRunInMemberRegion(t, e)
	checkTagsInOwnAccount(t, e, memberCfg, memberRef, hubRef)
	checkAlertsAndFindings(t, e, memberRef, hubRef)
	checkRefusals(t, e, spoke)
	checkRoleFailure(t, e, spoke(mistrusting, memberRegion), mistrusting)
}

// memberAdmin is an admin of account in region: moto puts its requests in
// that account (the access key's).
func memberAdmin(t *testing.T, e *e2e, account, region string) aws.Config {
	t.Helper()
	key, err := mototest.Server(t).CreateAdmin(e.ctx, account, mototest.UniqueName("admin"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg.Copy()
	cfg.Region = region
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	return cfg
}

// retagIn pushes src's content to repo in account's registry in region.
func retagIn(t *testing.T, e *e2e, cfg aws.Config, src domain.ImageRef, account, region, repo string) domain.ImageRef {
	t.Helper()
	ref, err := e.reg.Retag(e.ctx, ecr.NewFromConfig(cfg), src, repo, "v2")
	if err != nil {
		t.Fatal(err)
	}
	ref, err = domain.NewImageRef(account, region, ref.Repository, ref.Digest.String(), ref.Tag)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// pushIn puts ECR's push event for ref on the default bus of ref's account
// and region, as ECR does there.
func pushIn(t *testing.T, e *e2e, cfg aws.Config, ref domain.ImageRef) {
	t.Helper()
	out, err := eventbridge.NewFromConfig(cfg).PutEvents(e.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("aws.ecr"), DetailType: aws.String("ECR Image Action"), Resources: []string{local.RepositoryARN(ref)},
		Detail: aws.String(fmt.Sprintf(`{"result":"SUCCESS","repository-name":%q,"image-digest":%q,"action-type":"PUSH","image-tag":%q}`, ref.Repository, ref.Digest, ref.Tag)),
	}}})
	if err != nil || out.FailedEntryCount > 0 {
		t.Fatalf("push event in %s/%s: %v", ref.Account, ref.Region, err)
	}
}

func hasRef(rec domain.ScanRecord, ref domain.ImageRef) bool {
	for _, r := range rec.References {
		if r.ImageRef == ref {
			return true
		}
	}
	return false
}

// checkOneRunInMemberRegion: QScanner ran once, for the member's push, with
// the member registry's region in its environment.
func checkOneRunInMemberRegion(t *testing.T, e *e2e) {
	t.Helper()
	if n := e.qscannerRuns(); n != 1 {
		t.Fatalf("QScanner ran %d times for one digest pushed in two accounts and regions, want 1", n)
	}
	f, err := os.Open(e.runs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	var run struct {
		Region string `json:"aws_region"`
	}
	if err := json.Unmarshal(sc.Bytes(), &run); err != nil {
		t.Fatal(err)
	}
	if run.Region != memberRegion {
		t.Errorf("QScanner's AWS_REGION was %q, want the member registry's %s", run.Region, memberRegion)
	}
}

// checkTagsInOwnAccount: the labels and the referrer are in each
// repository's own registry.
func checkTagsInOwnAccount(t *testing.T, e *e2e, memberCfg aws.Config, memberRef, hubRef domain.ImageRef) {
	t.Helper()
	for _, c := range []struct {
		ref domain.ImageRef
		cfg aws.Config
	}{{memberRef, memberCfg}, {hubRef, e.cfg}} {
		arn := local.RepositoryARN(c.ref)
		var tags map[string]string
		e.eventually("scan labels on "+arn, 60*time.Second, func() bool {
			out, err := ecr.NewFromConfig(c.cfg).ListTagsForResource(e.ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			if err != nil {
				return false
			}
			tags = map[string]string{}
			for _, tg := range out.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			return tags[ecrstore.LabelLastDigest] == c.ref.Digest.String()
		})
		e.eventually("a referrer on "+c.ref.Display(), 30*time.Second, func() bool {
			refs, err := e.reg.Referrers(c.ref)
			return err == nil && len(refs) > 0
		})
		t.Logf("%s: %s=%s", arn, ecrstore.LabelVulnerabilities, tags[ecrstore.LabelVulnerabilities])
	}
	// The member's repository is not in the hub's registry: the labels
	// cannot have been written there by mistake.
	if _, err := e.obs.RepositoryTags(e.ctx, domain.ImageRef{Account: local.Account, Region: local.Region, Repository: memberRef.Repository}); err == nil {
		t.Errorf("the hub's registry has a repository %s; the member's push leaked into it", memberRef.Repository)
	}
}

// checkAlertsAndFindings: the member's alert names its account and region;
// the findings about its image name them in the resource, with the hub's
// own account as AwsAccountId (the only one BatchImportFindings accepts).
func checkAlertsAndFindings(t *testing.T, e *e2e, memberRef, hubRef domain.ImageRef) {
	t.Helper()
	log := &alertLog{byRepo: map[string][]local.Alert{}}
	e.eventually("alerts for both repositories", 60*time.Second, func() bool {
		e.drainAlerts(log)
		return log.count(memberRef.Repository) > 0 && log.count(hubRef.Repository) > 0
	})
	msg := log.first(memberRef.Repository).Message
	for _, want := range []string{member, memberRegion} {
		if !strings.Contains(msg, want) {
			t.Errorf("the member's alert does not name %s:\n%s", want, msg)
		}
	}
	sh := securityhub.NewFromConfig(e.cfg)
	e.eventually("Security Hub findings about the member's image", 60*time.Second, func() bool {
		out, err := sh.GetFindings(e.ctx, &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
		if err != nil {
			return false
		}
		for _, f := range out.Findings {
			for _, r := range f.Resources {
				if strings.Contains(aws.ToString(r.Id), ":"+memberRegion+":"+member+":repository/"+memberRef.Repository) {
					if aws.ToString(r.Region) != memberRegion || aws.ToString(f.AwsAccountId) != local.Account {
						t.Errorf("finding %s: resource region %s, AwsAccountId %s; want %s and the hub's %s",
							aws.ToString(f.Id), aws.ToString(r.Region), aws.ToString(f.AwsAccountId), memberRegion, local.Account)
					}
					return true
				}
			}
		}
		return false
	})
}

// checkRefusals: what the hub does not serve ends visible, with a reason,
// and is never scanned.
func checkRefusals(t *testing.T, e *e2e, spoke func(account, region string) aws.Config) {
	t.Helper()
	runs := e.qscannerRuns()
	outsiderCfg := spoke(outsider, memberRegion)
	unservedCfg := spoke(member, unserved)
	rolelessCfg := spoke(roleless, memberRegion)
	cases := []struct {
		cfg     aws.Config
		account string
		region  string
		reason  string
	}{
		{outsiderCfg, outsider, memberRegion, "account " + outsider + " is not one of the member accounts"},
		{unservedCfg, member, unserved, "region " + unserved + " is not served by this hub"},
	}
	for _, c := range cases {
		src, err := e.reg.PushSample(e.ctx, e.ecr, local.Account, local.Region, mototest.UniqueName("org/src"), "v1")
		if err != nil {
			t.Fatal(err)
		}
		pushIn(t, e, c.cfg, retagIn(t, e, c.cfg, src, c.account, c.region, mototest.UniqueName("org/refused")))
		e.eventually("ScanDLQ: "+c.reason, 60*time.Second, func() bool { return dlqHolds(e, "ScanDLQ", c.reason) })
	}
	checkRoleFailure(t, e, rolelessCfg, roleless)
	if n := e.qscannerRuns(); n != runs {
		t.Errorf("QScanner ran %d more times for refused or failed events, want none", n-runs)
	}
}

// checkRoleFailure: a push in account, whose spoke role the hub cannot
// assume, ends in a final ScanFailed naming the role after one attempt.
func checkRoleFailure(t *testing.T, e *e2e, cfg aws.Config, account string) {
	t.Helper()
	src, err := e.reg.PushSample(e.ctx, e.ecr, local.Account, local.Region, mototest.UniqueName("org/src"), "v1")
	if err != nil {
		t.Fatal(err)
	}
	ref := retagIn(t, e, cfg, src, account, memberRegion, mototest.UniqueName("org/norole"))
	pushIn(t, e, cfg, ref)
	var rec domain.ScanRecord
	e.eventually("ScanFailed for "+account+"'s spoke role", 60*time.Second, func() bool {
		r, ok, err := e.obs.Record(e.ctx, ref.Digest)
		rec = r
		return err == nil && ok && r.Status == domain.StatusFailed
	})
	role := "arn:aws:iam::" + account + ":role/qualys-ecr-scanner-spoke"
	if rec.Failure == nil || rec.Failure.Class != domain.FailureRegistryAuth || !strings.Contains(rec.Failure.Reason, role) || !rec.FinalFailure {
		t.Errorf("failure %+v (final %v), want a final %s naming %s", rec.Failure, rec.FinalFailure, domain.FailureRegistryAuth, role)
	}
	if rec.Attempts != 1 {
		t.Errorf("%d attempts for a spoke role the hub cannot assume, want 1 (no retries)", rec.Attempts)
	}
	t.Logf("%s: %s", account, rec.Failure.Reason)
}

// dlqHolds reports whether a message parked in the queue carries reason
// (peeked: received with a zero visibility timeout, so it stays there).
func dlqHolds(e *e2e, logicalID, reason string) bool {
	url, err := e.p.Ref(logicalID)
	if err != nil {
		return false
	}
	out, err := sqs.NewFromConfig(e.cfg).ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 0,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		return false
	}
	for _, m := range out.Messages {
		for _, a := range m.MessageAttributes {
			if strings.Contains(aws.ToString(a.StringValue), reason) {
				return true
			}
		}
		if strings.Contains(aws.ToString(m.Body), reason) {
			return true
		}
	}
	return false
}
