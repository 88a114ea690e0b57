package main

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"ecrscanner/domain"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/securityhubstore"
)

type deniedSTS struct{ calls int }

func (d *deniedSTS) AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	d.calls++
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sts:AssumeRole"}
}

// The hub's own images' tags are read with the function's client; a
// member's through its spoke role, whose refusal names the role.
func TestRegistryTagsReadEachImageWhereItIs(t *testing.T) {
	s := &deniedSTS{}
	access, err := ecrstore.NewRegistryAccess(s, aws.Config{Region: "us-east-1"}, ecrstore.RegistryAccessConfig{
		HomeAccount: "123456789012", HomeRegion: "us-east-1", RoleName: "qualys-ecr-scanner-spoke", Function: "securityhub",
	})
	if err != nil {
		t.Fatal(err)
	}
	home := newFakeTags()
	rt := registryTags{access: access, home: home}
	ctx := context.Background()
	if _, err := rt.TagsOf(ctx, domain.ImageRef{Account: "123456789012", Region: "us-east-1", Repository: "a", Digest: "sha256:" + domain.Digest(zeros)}); err != nil || len(home.asked) != 1 || s.calls != 0 {
		t.Fatalf("home image: err %v, asked %d, STS calls %d", err, len(home.asked), s.calls)
	}
	_, err = rt.TagsOf(ctx, domain.ImageRef{Account: "111122223333", Region: "us-west-2", Repository: "a", Digest: "sha256:" + domain.Digest(zeros)})
	var re *ecrstore.RoleError
	if !errors.As(err, &re) || re.Role != "arn:aws:iam::111122223333:role/qualys-ecr-scanner-spoke" {
		t.Fatalf("member image: %v, want a RoleError naming the spoke role", err)
	}
}

// A member image's findings carry the hub's account as AwsAccountId and
// name the member's account and region in the resource.
func TestMemberFindingsNameTheRegistry(t *testing.T) {
	im := image{product: securityhubstore.Product{ARN: "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default", Partition: "aws", Region: "us-east-1", Account: "123456789012"},
		account: "111122223333", region: "us-west-2", repository: "team/app", digest: domain.Digest("sha256:" + zeros)}
	f := im.finding("id", "gen", nil, securityhubstore.Severity{}, "t", "d")
	if f.AwsAccountID != "123456789012" {
		t.Errorf("AwsAccountId %s, want the hub's (BatchImportFindings accepts no other)", f.AwsAccountID)
	}
	r := f.Resources[0]
	if r.Region != "us-west-2" || r.ID != "arn:aws:ecr:us-west-2:111122223333:repository/team/app/sha256:"+zeros {
		t.Errorf("resource %s in %s, want the member's repository and region", r.ID, r.Region)
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"
