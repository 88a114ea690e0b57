package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/conformance"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

// The findings of the largest image the design plans for — a 20,000-finding
// report plus a scanner's messiest output (invalid UTF-8, overlong text), in
// a 256-character repository (ECR's longest, with slashes) whose 100 tags are
// 300 characters each — go to Security Hub in requests that botocore's model
// and ASFF's documented limits accept (infra/ops/conformance). The adapter
// and its SDK client are the function's own, pointed at a loopback server.
func TestFindingsConformToTheServiceModel(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 findings through botocore's validator")
	}
	rec := conformance.NewRecorder(t, "securityhub")
	hub, err := securityhubstore.New(securityhub.NewFromConfig(rec.Config(t)), testProduct)
	if err != nil {
		t.Fatal(err)
	}
	repository := "team/"
	for len(repository)+31 <= 256 {
		repository += strings.Repeat("a", 30) + "/"
	}
	repository += strings.Repeat("z", 256-len(repository))
	if err := domain.ValidateRepository(repository); err != nil {
		t.Fatal(err)
	}
	var tags []string
	for i := range domain.MaxReferences {
		tag := fmt.Sprintf("v%03d_", i)
		tags = append(tags, tag+strings.Repeat("t", domain.MaxTagLen-len(tag)))
	}
	im := testImage(t)
	im.repository, im.tags = repository, tags
	im.scannedAt = im.observedAt
	rep := testkit.LargeReport(20000)
	rep.Vulnerabilities = append(rep.Vulnerabilities, messyReport().Vulnerabilities...)
	rep.Secrets = append(rep.Secrets, messyReport().Secrets...)

	start := time.Now()
	findings := findingsOf(im, rep)
	if err := hub.Import(context.Background(), findings); err != nil {
		t.Fatalf("Import: %v", err)
	}
	reqs := rec.Requests()
	sent := time.Since(start)
	conformance.CheckLimits(t, reqs)
	// botocore's validator takes minutes over all 20,000 findings on a busy
	// machine; the batches differ only in which report entries they carry,
	// so it checks the first, the last (with the messy entries) and every
	// 50th between.
	var sample []conformance.Request
	for i, r := range reqs {
		if i == 0 || i == len(reqs)-1 || i%50 == 0 {
			sample = append(sample, r)
		}
	}
	conformance.Check(t, sample)
	t.Logf("%d findings in %d BatchImportFindings requests: built and sent in %v; limits on all and the model on %d checked in %v",
		len(findings), len(reqs), sent.Round(time.Millisecond), len(sample), (time.Since(start) - sent).Round(time.Millisecond))
	if len(findings) < 20000 {
		t.Errorf("%d findings, want at least the report's 20,000 vulnerabilities", len(findings))
	}
}
