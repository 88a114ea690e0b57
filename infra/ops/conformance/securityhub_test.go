package conformance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"ecrscanner/infra/ops/conformance"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

const product = "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"

// maximalFinding fills every field the store writes to the bound
// securityhubstore.Validate allows.
func maximalFinding(i int) securityhubstore.Finding {
	sev := securityhubstore.Severity{Label: securityhubstore.SeverityCritical, Original: "5"}
	fields := map[string]string{}
	for k := range securityhubstore.MaxProductFields {
		key := fmt.Sprintf("qualys-qscanner/%02d_", k)
		fields[key+strings.Repeat("k", securityhubstore.MaxFieldKeyLen-len(key))] = strings.Repeat("v", securityhubstore.MaxFieldValueLen)
	}
	id := fmt.Sprintf("qualys-qscanner:%s:%s:%s:%d:", account, region, longRepository(0), i)
	id += strings.Repeat("i", securityhubstore.MaxIDLen-len(id))
	image := "arn:aws:ecr:us-east-1:123456789012:repository/" + longRepository(0) + "/" + testkit.Digest.String()
	return securityhubstore.Finding{
		SchemaVersion: securityhubstore.SchemaVersion, ID: id, ProductARN: product,
		GeneratorID: "qualys-qscanner/vuln/" + strings.Repeat("9", 400), AwsAccountID: account,
		Types:     []string{"Software and Configuration Checks/Vulnerabilities/CVE"},
		CreatedAt: at, UpdatedAt: at.Add(time.Hour), FirstObservedAt: at, LastObservedAt: at.Add(time.Hour),
		Severity: sev, Title: strings.Repeat("T", securityhubstore.MaxTitleLen), Description: strings.Repeat("D", securityhubstore.MaxDescriptionLen),
		Remediation:   &securityhubstore.Remediation{Recommendation: securityhubstore.Recommendation{Text: strings.Repeat("R", securityhubstore.MaxRemediationLen)}},
		ProductFields: fields,
		Resources: []securityhubstore.Resource{{
			Type: "AwsEcrContainerImage", ID: image, Partition: "aws", Region: region,
			Details: &securityhubstore.ResourceDetails{AwsEcrContainerImage: &securityhubstore.EcrContainerImage{
				RegistryID: account, RepositoryName: longRepository(0), ImageDigest: testkit.Digest.String(),
				ImageTags: []string{longTag(0), longTag(1)}, Architecture: "arm64",
			}},
		}},
		Vulnerabilities: []securityhubstore.Vulnerability{{
			ID:                 "CVE-2024-0001",
			VulnerablePackages: []securityhubstore.SoftwarePackage{{Name: "openssl", Version: "3.1.0-r0", FixedInVersion: "3.1.5-r0", FilePath: "/lib/apk/db/installed"}},
			Cvss:               []securityhubstore.Cvss{{Version: "3.1", BaseScore: 9.8}},
			Vendor:             &securityhubstore.Vendor{Name: "Qualys", VendorSeverity: "5"},
			ReferenceURLs:      []string{"https://nvd.nist.gov/vuln/detail/CVE-2024-0001"},
			FixAvailable:       securityhubstore.FixPartial,
		}},
		FindingProviderFields: &securityhubstore.FindingProviderFields{Severity: &sev, Types: []string{"Software and Configuration Checks/Vulnerabilities/CVE"}},
		Workflow:              securityhubstore.Workflow{Status: securityhubstore.WorkflowNew},
		RecordState:           securityhubstore.RecordStateArchived,
	}
}

// Security Hub: BatchImportFindings with findings at every bound Validate
// allows, batched by the store, and the GetFindings that reads them back.
func TestSecurityHubRequests(t *testing.T) {
	rec := conformance.NewRecorder(t, "securityhub")
	hub, err := securityhubstore.New(securityhub.NewFromConfig(rec.Config(t)), product)
	if err != nil {
		t.Fatal(err)
	}
	var fs []securityhubstore.Finding
	for i := range 150 {
		f := maximalFinding(i)
		if err := securityhubstore.Validate(f); err != nil {
			t.Fatalf("maximal finding refused: %v", err)
		}
		fs = append(fs, f)
	}
	if err := hub.Import(context.Background(), fs); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if _, err := hub.Findings(context.Background(), fs[0].ID[:securityhubstore.MaxIDLen-1]); err != nil {
		t.Fatalf("Findings: %v", err)
	}
	checkAll(t, rec, "BatchImportFindings", "GetFindings")
}
