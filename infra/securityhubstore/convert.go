package securityhubstore

import (
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
)

// timeFormat is how times go to Security Hub: RFC 3339 in UTC, one of the
// formats ASFF accepts.
const timeFormat = time.RFC3339Nano

func formatTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return aws.String(t.UTC().Format(timeFormat))
}

// parseTime reads a time Security Hub returned; it answers in RFC 3339 with
// or without fractional seconds. An unreadable time reads as zero.
func parseTime(s *string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, aws.ToString(s))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// toSDK renders f as the SDK's finding type, field for field.
func toSDK(f Finding) types.AwsSecurityFinding {
	out := types.AwsSecurityFinding{
		SchemaVersion:   aws.String(f.SchemaVersion),
		Id:              aws.String(f.ID),
		ProductArn:      aws.String(f.ProductARN),
		GeneratorId:     aws.String(f.GeneratorID),
		AwsAccountId:    aws.String(f.AwsAccountID),
		Types:           append([]string(nil), f.Types...),
		CreatedAt:       formatTime(f.CreatedAt),
		UpdatedAt:       formatTime(f.UpdatedAt),
		FirstObservedAt: formatTime(f.FirstObservedAt),
		LastObservedAt:  formatTime(f.LastObservedAt),
		Severity:        &types.Severity{Label: types.SeverityLabel(f.Severity.Label), Original: optional(f.Severity.Original)},
		Title:           aws.String(f.Title),
		Description:     aws.String(f.Description),
		ProductFields:   maps.Clone(f.ProductFields),
		Workflow:        &types.Workflow{Status: types.WorkflowStatus(f.Workflow.Status)},
		RecordState:     types.RecordState(f.RecordState),
	}
	if n := f.Note; n != nil {
		out.Note = &types.Note{Text: aws.String(n.Text), UpdatedBy: aws.String(n.UpdatedBy), UpdatedAt: formatTime(n.UpdatedAt)}
	}
	if f.Remediation != nil {
		out.Remediation = &types.Remediation{Recommendation: &types.Recommendation{
			Text: aws.String(f.Remediation.Recommendation.Text),
			Url:  optional(f.Remediation.Recommendation.URL),
		}}
	}
	for _, r := range f.Resources {
		res := types.Resource{Type: aws.String(r.Type), Id: aws.String(r.ID), Partition: types.Partition(r.Partition), Region: optional(r.Region)}
		if r.Details != nil && r.Details.AwsEcrContainerImage != nil {
			img := r.Details.AwsEcrContainerImage
			res.Details = &types.ResourceDetails{AwsEcrContainerImage: &types.AwsEcrContainerImageDetails{
				RegistryId:     aws.String(img.RegistryID),
				RepositoryName: aws.String(img.RepositoryName),
				ImageDigest:    aws.String(img.ImageDigest),
				ImageTags:      append([]string(nil), img.ImageTags...),
				Architecture:   optional(img.Architecture),
			}}
		}
		out.Resources = append(out.Resources, res)
	}
	for _, v := range f.Vulnerabilities {
		sv := types.Vulnerability{Id: aws.String(v.ID), ReferenceUrls: append([]string(nil), v.ReferenceURLs...), FixAvailable: types.VulnerabilityFixAvailable(v.FixAvailable)}
		for _, p := range v.VulnerablePackages {
			sv.VulnerablePackages = append(sv.VulnerablePackages, types.SoftwarePackage{
				Name: aws.String(p.Name), Version: optional(p.Version), FixedInVersion: optional(p.FixedInVersion), FilePath: optional(p.FilePath),
			})
		}
		for _, c := range v.Cvss {
			sv.Cvss = append(sv.Cvss, types.Cvss{Version: aws.String(c.Version), BaseScore: aws.Float64(c.BaseScore)})
		}
		if v.Vendor != nil {
			sv.Vendor = &types.VulnerabilityVendor{Name: aws.String(v.Vendor.Name), VendorSeverity: optional(v.Vendor.VendorSeverity)}
		}
		out.Vulnerabilities = append(out.Vulnerabilities, sv)
	}
	if p := f.FindingProviderFields; p != nil {
		out.FindingProviderFields = &types.FindingProviderFields{Types: append([]string(nil), p.Types...)}
		if p.Severity != nil {
			out.FindingProviderFields.Severity = &types.FindingProviderSeverity{Label: types.SeverityLabel(p.Severity.Label), Original: optional(p.Severity.Original)}
		}
	}
	return out
}

// fromSDK reads back the fields toSDK writes. Fields Security Hub adds
// (ProcessedAt, Region, CompanyName, …) are dropped: an import never sends
// them, and so are the ProductFields keys Security Hub adds under
// ReservedFieldPrefix, which an import must not send back.
func fromSDK(s types.AwsSecurityFinding) Finding {
	f := Finding{
		SchemaVersion:   aws.ToString(s.SchemaVersion),
		ID:              aws.ToString(s.Id),
		ProductARN:      aws.ToString(s.ProductArn),
		GeneratorID:     aws.ToString(s.GeneratorId),
		AwsAccountID:    aws.ToString(s.AwsAccountId),
		Types:           append([]string(nil), s.Types...),
		CreatedAt:       parseTime(s.CreatedAt),
		UpdatedAt:       parseTime(s.UpdatedAt),
		FirstObservedAt: parseTime(s.FirstObservedAt),
		LastObservedAt:  parseTime(s.LastObservedAt),
		Title:           aws.ToString(s.Title),
		Description:     aws.ToString(s.Description),
		ProductFields:   WithoutReserved(s.ProductFields),
		RecordState:     string(s.RecordState),
	}
	if s.Severity != nil {
		f.Severity = Severity{Label: string(s.Severity.Label), Original: aws.ToString(s.Severity.Original)}
	}
	if s.Workflow != nil {
		f.Workflow = Workflow{Status: string(s.Workflow.Status)}
	}
	if n := s.Note; n != nil {
		f.Note = &Note{Text: aws.ToString(n.Text), UpdatedBy: aws.ToString(n.UpdatedBy), UpdatedAt: parseTime(n.UpdatedAt)}
	}
	if s.Remediation != nil && s.Remediation.Recommendation != nil {
		f.Remediation = &Remediation{Recommendation: Recommendation{Text: aws.ToString(s.Remediation.Recommendation.Text), URL: aws.ToString(s.Remediation.Recommendation.Url)}}
	}
	for _, r := range s.Resources {
		res := Resource{Type: aws.ToString(r.Type), ID: aws.ToString(r.Id), Partition: string(r.Partition), Region: aws.ToString(r.Region)}
		if r.Details != nil && r.Details.AwsEcrContainerImage != nil {
			img := r.Details.AwsEcrContainerImage
			res.Details = &ResourceDetails{AwsEcrContainerImage: &EcrContainerImage{
				RegistryID:     aws.ToString(img.RegistryId),
				RepositoryName: aws.ToString(img.RepositoryName),
				ImageDigest:    aws.ToString(img.ImageDigest),
				ImageTags:      append([]string(nil), img.ImageTags...),
				Architecture:   aws.ToString(img.Architecture),
			}}
		}
		f.Resources = append(f.Resources, res)
	}
	for _, v := range s.Vulnerabilities {
		fv := Vulnerability{ID: aws.ToString(v.Id), ReferenceURLs: append([]string(nil), v.ReferenceUrls...), FixAvailable: string(v.FixAvailable)}
		for _, p := range v.VulnerablePackages {
			fv.VulnerablePackages = append(fv.VulnerablePackages, SoftwarePackage{
				Name: aws.ToString(p.Name), Version: aws.ToString(p.Version), FixedInVersion: aws.ToString(p.FixedInVersion), FilePath: aws.ToString(p.FilePath),
			})
		}
		for _, c := range v.Cvss {
			fv.Cvss = append(fv.Cvss, Cvss{Version: aws.ToString(c.Version), BaseScore: aws.ToFloat64(c.BaseScore)})
		}
		if v.Vendor != nil {
			fv.Vendor = &Vendor{Name: aws.ToString(v.Vendor.Name), VendorSeverity: aws.ToString(v.Vendor.VendorSeverity)}
		}
		f.Vulnerabilities = append(f.Vulnerabilities, fv)
	}
	if p := s.FindingProviderFields; p != nil {
		f.FindingProviderFields = &FindingProviderFields{Types: append([]string(nil), p.Types...)}
		if p.Severity != nil {
			f.FindingProviderFields.Severity = &Severity{Label: string(p.Severity.Label), Original: aws.ToString(p.Severity.Original)}
		}
	}
	return f
}
