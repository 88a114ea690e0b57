package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

// otherImageReport is a second image of team/app: QID 379201 as in the first
// image, 390001 of its own, no secret.
func otherImageReport() *domain.Report {
	rep := rescanReport()
	rep.Digest = testkit.OtherDigest
	rep.Secrets = nil
	return rep
}

// states maps each finding of d in team/app to its record state and workflow.
func states(env *testEnv, d domain.Digest) map[string][2]string {
	out := map[string][2]string{}
	prefix := imagePrefix(testkit.Account, testkit.Region, "team/app", d)
	for id, f := range env.hub.snapshot() {
		if strings.HasPrefix(id, prefix) {
			out[strings.TrimPrefix(id, prefix)] = [2]string{f.RecordState, f.Workflow.Status}
		}
	}
	return out
}

func allActive(t *testing.T, what string, got map[string][2]string, want int) {
	t.Helper()
	if len(got) != want {
		t.Errorf("%s: %d findings, want %d: %v", what, len(got), want, got)
	}
	for id, s := range got {
		if s != [2]string{securityhubstore.RecordStateActive, securityhubstore.WorkflowNew} {
			t.Errorf("%s: %s is %v, want ACTIVE NEW", what, id, s)
		}
	}
}

func TestRetagOfAnOlderCachedDigestAgreesWithTagsOnTheCurrentImage(t *testing.T) {
	env := newTestEnv(t)
	older := testkit.Report() // testkit.Digest, scanned at testkit.ScannedAt
	if err := env.handle(t, testkit.CompletedEventOf(older, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), older); err != nil {
		t.Fatal(err)
	}
	newer := otherImageReport()
	newerAt := testkit.ScannedAt.Add(time.Hour)
	if err := env.handle(t, testkit.CompletedEventOf(newer, "scan2", newerAt, testkit.MustRefOf(t, testkit.OtherDigest, "team/app", "v2")), newer); err != nil {
		t.Fatal(err)
	}
	// The older image re-tagged after the newer scan: its cached scan comes
	// back with a later event time.
	retag := testkit.ReferencedEventAt(older, newerAt.Add(time.Hour), testkit.MustRef(t, "team/app", "latest"), testkit.MustRef(t, "team/app", "v1"))
	env.logs.Reset()
	if err := env.handle(t, retag, older); err != nil {
		t.Fatal(err)
	}

	allActive(t, "newer image", states(env, testkit.OtherDigest), 2)
	allActive(t, "re-tagged older image", states(env, testkit.Digest), 3)
	if len(env.hub.archived) != 0 {
		t.Errorf("resolved %v on a re-tag", env.hub.archived)
	}
	// The repository labels follow the same rule: the newest scan.
	want := domain.ImageScan{Digest: testkit.OtherDigest, ScannedAt: newerAt}
	if got := repositoryCurrent(mustFindings(t, env), domain.ImageScan{Digest: testkit.Digest, ScannedAt: testkit.ScannedAt}); got.Digest != want.Digest || !got.ScannedAt.Equal(want.ScannedAt) {
		t.Errorf("Security Hub's current image of team/app is %+v, want %+v", got, want)
	}
	if !strings.Contains(env.logs.String(), `"repository_current_digest":"`+testkit.OtherDigest.String()+`"`) {
		t.Errorf("the re-tag logged another current image:\n%s", env.logs.String())
	}
	if !domain.CurrentImage(domain.ImageScan{Digest: testkit.Digest, ScannedAt: testkit.ScannedAt}, want) ||
		domain.CurrentImage(want, domain.ImageScan{Digest: testkit.Digest, ScannedAt: testkit.ScannedAt}) {
		t.Error("domain.CurrentImage, which the tag handler follows, disagrees")
	}
	if f := env.hub.get(t, vulnID("team/app", "379201")); !strings.Contains(strings.Join(f.Resources[0].Details.AwsEcrContainerImage.ImageTags, ","), "latest") {
		t.Errorf("the re-tagged image's findings list tags %v, want latest among them", f.Resources[0].Details.AwsEcrContainerImage.ImageTags)
	}
}

func mustFindings(t *testing.T, env *testEnv) []securityhubstore.Finding {
	t.Helper()
	var out []securityhubstore.Finding
	for _, f := range env.hub.snapshot() {
		out = append(out, f)
	}
	return out
}

func TestASecondImageLeavesTheFirstImagesFindingsActiveWhileItIsTagged(t *testing.T) {
	env := newTestEnv(t)
	first := testkit.Report()
	if err := env.handle(t, testkit.CompletedEventOf(first, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), first); err != nil {
		t.Fatal(err)
	}
	second := otherImageReport()
	if err := env.handle(t, testkit.CompletedEventOf(second, "scan2", testkit.ScannedAt.Add(time.Hour), testkit.MustRefOf(t, testkit.OtherDigest, "team/app", "v2")), second); err != nil {
		t.Fatal(err)
	}
	allActive(t, "first image", states(env, testkit.Digest), 3)
	allActive(t, "second image", states(env, testkit.OtherDigest), 2)
	if len(env.hub.archived) != 0 {
		t.Errorf("resolved %v while the first image is tagged", env.hub.archived)
	}
	if len(env.tags.asked) != 1 || env.tags.asked[0].Digest != testkit.Digest || env.tags.asked[0].Repository != "team/app" {
		t.Errorf("asked ECR about %+v, want the first image in team/app", env.tags.asked)
	}
}

func TestAnUntaggedImagesFindingsAreResolved(t *testing.T) {
	tests := []struct {
		name   string
		tagErr error
		want   [2]string
	}{
		{"no tag points at it", nil, [2]string{securityhubstore.RecordStateArchived, securityhubstore.WorkflowNew}},
		{"ECR cannot answer: nothing resolved on a guess", errors.New("AccessDenied"), [2]string{securityhubstore.RecordStateActive, securityhubstore.WorkflowNew}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			first := testkit.Report()
			if err := env.handle(t, testkit.CompletedEventOf(first, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), first); err != nil {
				t.Fatal(err)
			}
			second := otherImageReport()
			secondAt := testkit.ScannedAt.Add(time.Hour)
			if err := env.handle(t, testkit.CompletedEventOf(second, "scan2", secondAt, testkit.MustRefOf(t, testkit.OtherDigest, "team/app", "v2")), second); err != nil {
				t.Fatal(err)
			}
			// v1 moves away: a later event for the repository (the second
			// image tagged latest) finds no tag pointing at the first image.
			env.tags.untag(testkit.Digest)
			env.tags.err = tt.tagErr
			later := testkit.ReferencedEventAt(second, secondAt.Add(time.Hour), testkit.MustRefOf(t, testkit.OtherDigest, "team/app", "latest"), testkit.MustRefOf(t, testkit.OtherDigest, "team/app", "v2"))
			later.ScanID, later.ScannedAt = "scan2", secondAt
			if err := env.handle(t, later, second); err != nil {
				t.Fatal(err)
			}
			for id, s := range states(env, testkit.Digest) {
				if s != tt.want {
					t.Errorf("first image's %s is %v, want %v", id, s, tt.want)
				}
			}
			allActive(t, "second image", states(env, testkit.OtherDigest), 2)

			// A redelivery changes nothing more.
			before, calls := env.hub.snapshot(), len(env.hub.archived)
			if err := env.handle(t, later, second); err != nil {
				t.Fatal(err)
			}
			if after := env.hub.snapshot(); len(after) != len(before) || len(env.hub.archived) != calls {
				t.Errorf("a redelivery resolved again: %v", env.hub.archived[calls:])
			}
		})
	}
}

func TestFindingsUnderTheFormerRepositoryIdsAreArchivedOnceTheImageHasItsOwn(t *testing.T) {
	env := newTestEnv(t)
	rep := testkit.Report()
	ev := testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1"))
	// What the former scheme wrote: the same findings under Ids without the
	// digest, one of them suppressed by an analyst.
	legacy := findingsOf(image{
		product: testProductOf(t), account: testkit.Account, region: testkit.Region, repository: "team/app",
		digest: testkit.Digest, observedAt: testkit.ScannedAt.Add(-time.Hour),
	}, rep)
	repoPrefix := repositoryPrefix(testkit.Account, testkit.Region, "team/app")
	for i := range legacy {
		legacy[i].ID = repoPrefix + strings.TrimPrefix(legacy[i].ID, imagePrefix(testkit.Account, testkit.Region, "team/app", testkit.Digest))
		delete(legacy[i].ProductFields, scannedAtField)
		if i == 0 {
			legacy[i].Workflow.Status = securityhubstore.WorkflowSuppressed
		}
		env.hub.findings[legacy[i].ID] = legacy[i]
	}
	if err := env.handle(t, ev, rep); err != nil {
		t.Fatal(err)
	}
	allActive(t, "image", states(env, testkit.Digest), 3)
	for _, old := range legacy {
		f := env.hub.get(t, old.ID)
		if f.RecordState != securityhubstore.RecordStateArchived || f.Workflow.Status != old.Workflow.Status {
			t.Errorf("former %s: %s %s, want ARCHIVED with workflow %s kept", old.ID, f.RecordState, f.Workflow.Status, old.Workflow.Status)
		}
	}
	for _, id := range env.hub.archived {
		if strings.HasPrefix(id, imagePrefix(testkit.Account, testkit.Region, "team/app", testkit.Digest)) {
			t.Errorf("resolved %s: the former findings' successors stay active", id)
		}
	}
	if len(env.tags.asked) != 0 {
		t.Errorf("asked ECR about %v: the former findings are the same image's", env.tags.asked)
	}
}
