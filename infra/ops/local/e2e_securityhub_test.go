package local_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/securityhubstore"
)

// TestSecurityHubEndToEnd pushes an image through the whole local stack and
// reads the findings the Security Hub function imported into moto: one per
// vulnerability and secret of the scan, under the account's default product,
// for the pushed repository; then the same image in a second repository,
// which gets findings of its own and leaves the first one's alone.
func TestSecurityHubEndToEnd(t *testing.T) {
	e, _ := startE2E(t, func(reg *local.Registry, client *ecr.Client) domain.ImageRef {
		ref, err := reg.PushSample(context.Background(), client, local.Account, local.Region, mototest.UniqueName("e2e-sh/unused"), "v1")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	})
	hub, err := securityhubstore.New(securityhub.NewFromConfig(e.cfg), "arn:aws:securityhub:"+local.Region+":"+local.Account+":product/"+local.Account+"/default")
	if err != nil {
		t.Fatal(err)
	}
	// The Id format is a contract: handlers/securityhub's repositoryPrefix.
	findingsOf := func(repo string) []securityhubstore.Finding {
		fs, err := hub.Findings(e.ctx, "qualys-qscanner:"+local.Account+":"+local.Region+":"+repo+":")
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}

	good, err := e.reg.PushSample(e.ctx, e.ecr, local.Account, local.Region, mototest.UniqueName("e2e-sh/app"), "v1")
	if err != nil {
		t.Fatal(err)
	}
	e.push(good)
	var rec domain.ScanRecord
	e.eventually("scan record completed", 60*time.Second, func() bool {
		r, ok, _ := e.obs.Record(e.ctx, good.Digest)
		rec = r
		return ok && r.Status == domain.StatusCompleted
	})
	want := rec.Summary.Vulnerabilities.Total() + rec.Summary.Secrets
	if want == 0 {
		t.Fatal("the scan found nothing: the test needs a fixture with findings")
	}
	var first []securityhubstore.Finding
	e.eventually("findings in Security Hub", 30*time.Second, func() bool {
		first = findingsOf(good.Repository)
		return len(first) >= want
	})
	if len(first) != want {
		t.Errorf("%d findings, want %d (vulnerabilities %d + secrets %d)", len(first), want, rec.Summary.Vulnerabilities.Total(), rec.Summary.Secrets)
	}
	secrets := 0
	for _, f := range first {
		img := f.Resources[0].Details.AwsEcrContainerImage
		if f.RecordState != "ACTIVE" || f.Workflow.Status != "NEW" || img.ImageDigest != good.Digest.String() || img.RepositoryName != good.Repository || !slices.Equal(img.ImageTags, []string{"v1"}) {
			t.Errorf("%s: state %s workflow %s image %+v", f.ID, f.RecordState, f.Workflow.Status, img)
		}
		if f.ProductFields["qualys-qscanner/scan_id"] != rec.ScanID {
			t.Errorf("%s: scan %q, want %s", f.ID, f.ProductFields["qualys-qscanner/scan_id"], rec.ScanID)
		}
		if strings.HasPrefix(f.GeneratorID, "qualys-qscanner/secret/") {
			secrets++
		}
	}
	t.Logf("%d findings, %d of them secrets", len(first), secrets)
	if secrets != rec.Summary.Secrets {
		t.Errorf("%d secret findings, want %d", secrets, rec.Summary.Secrets)
	}
	b, _ := json.Marshal(first)
	if strings.Contains(string(b), "AKIA") {
		t.Error("a finding holds a secret's matched text")
	}

	mirror, err := e.reg.Retag(e.ctx, e.ecr, good, mototest.UniqueName("e2e-sh/mirror"), "m1")
	if err != nil {
		t.Fatal(err)
	}
	e.push(mirror)
	e.eventually("mirror findings in Security Hub", 30*time.Second, func() bool { return len(findingsOf(mirror.Repository)) >= want })
	if n := len(findingsOf(mirror.Repository)); n != want {
		t.Errorf("mirror repository: %d findings, want %d", n, want)
	}
	if again := findingsOf(good.Repository); !reflect.DeepEqual(again, first) {
		t.Error("a push to another repository changed the first one's findings")
	}
	e.eventually("Security Hub queue drained", 30*time.Second, func() bool { return e.queuesEmpty("SecurityHubQueue") })
	if n, _ := e.obs.QueueDepth(e.ctx, "SecurityHubDLQ"); n != 0 {
		t.Errorf("SecurityHubDLQ holds %d messages", n)
	}
}
