package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ecrstore"
)

type deniedSTS struct{ calls int }

func (d *deniedSTS) AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	d.calls++
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sts:AssumeRole"}
}

// The hub's own repositories are tagged with the function's own client; a
// member's through its spoke role, whose refusal is permanent (the message
// goes to the DLQ naming the role, not round the retries).
func TestRegistryTaggerActsInEachRepositorysAccount(t *testing.T) {
	s := &deniedSTS{}
	access, err := ecrstore.NewRegistryAccess(s, aws.Config{Region: "us-east-1"}, ecrstore.RegistryAccessConfig{
		HomeAccount: "123456789012", HomeRegion: "us-east-1", RoleName: "qualys-ecr-scanner-spoke", Function: "tag",
	})
	if err != nil {
		t.Fatal(err)
	}
	home := newFakeTagger()
	tg := registryTagger{access: access, home: home}
	ctx := context.Background()
	if err := tg.TagRepository(ctx, ecrstore.RepositoryRef{Account: "123456789012", Region: "us-east-1", Name: "team/app"}, ecrstore.ScanSummary{}); err != nil {
		t.Fatal(err)
	}
	if len(home.written) != 1 || s.calls != 0 {
		t.Fatalf("the hub's own repository: written %q, %d AssumeRole calls; want the home tagger, no STS", home.written, s.calls)
	}
	err = tg.TagRepository(ctx, ecrstore.RepositoryRef{Account: "111122223333", Region: "us-west-2", Name: "team/app"}, ecrstore.ScanSummary{})
	if !consume.IsPermanent(err) || !strings.Contains(err.Error(), "arn:aws:iam::111122223333:role/qualys-ecr-scanner-spoke") {
		t.Fatalf("member repository: %v, want a permanent error naming the spoke role", err)
	}
	if s.calls != 1 {
		t.Errorf("%d AssumeRole calls, want 1", s.calls)
	}
}
