// Package securityhubstore keeps findings in AWS Security Hub (CSPM) as the
// account's own finding provider: it imports them with BatchImportFindings
// under the account's default product ARN, reads them back with GetFindings
// and archives them by importing them again with RecordState ARCHIVED. It
// never calls BatchUpdateFindings (see API).
//
// Findings are written as this package's Finding, the subset of the AWS
// Security Finding Format (ASFF, schema 2018-10-08) the scanner uses, with
// ASFF's own field names as JSON keys, so that what a golden file pins is what
// Security Hub receives. The SDK's types stay inside this package.
package securityhubstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"ecrscanner/domain"
)

// SchemaVersion is the ASFF version every finding declares.
const SchemaVersion = "2018-10-08"

// ASFF and BatchImportFindings limits. Lengths are checked in bytes, which is
// never less than the characters AWS counts.
const (
	MaxIDLen          = 512
	MaxTitleLen       = 256
	MaxDescriptionLen = 1024
	MaxRemediationLen = 512
	MaxTypes          = 50
	MaxResources      = 32
	MaxProductFields  = 50
	MaxFieldKeyLen    = 128
	MaxFieldValueLen  = 2048
	// MaxFindingBytes is Security Hub's limit for one finding (240 KB).
	MaxFindingBytes = 240 * 1024
	// MaxBatch is how many findings one BatchImportFindings call takes.
	MaxBatch = 100
	// MaxBatchBytes keeps one import request below Security Hub's 6 MB, with
	// room for the request's own framing.
	MaxBatchBytes = 5 << 20
)

// ReservedFieldPrefix starts the ProductFields keys Security Hub adds itself
// (aws/securityhub/FindingId, aws/securityhub/ProductName, …); they "must not
// be submitted with findings from third-party integrations":
// https://docs.aws.amazon.com/securityhub/latest/userguide/asff-top-level-attributes.html
const ReservedFieldPrefix = "aws/"

// IsReservedField tells a ProductFields key under ReservedFieldPrefix.
func IsReservedField(key string) bool { return strings.HasPrefix(key, ReservedFieldPrefix) }

// WithoutReserved copies fields without the keys Security Hub reserves, so
// that a finding read back can be imported again (nil when none is left).
func WithoutReserved(fields map[string]string) map[string]string {
	if fields == nil {
		return nil
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		if !IsReservedField(k) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Record states.
const (
	RecordStateActive   = "ACTIVE"
	RecordStateArchived = "ARCHIVED"
)

// Workflow statuses. Security Hub keeps the workflow of an existing finding
// whatever an import says (customers own it, through BatchUpdateFindings,
// which this package calls only for suppressions: Hub.SetWorkflow), and
// itself resets RESOLVED or NOTIFIED to NEW when an archived finding becomes
// active again.
const (
	WorkflowNew        = "NEW"
	WorkflowNotified   = "NOTIFIED"
	WorkflowResolved   = "RESOLVED"
	WorkflowSuppressed = "SUPPRESSED"
)

// Severity labels.
const (
	SeverityInformational = "INFORMATIONAL"
	SeverityLow           = "LOW"
	SeverityMedium        = "MEDIUM"
	SeverityHigh          = "HIGH"
	SeverityCritical      = "CRITICAL"
)

// FixAvailable values of a vulnerability.
const (
	FixYes     = "YES"
	FixNo      = "NO"
	FixPartial = "PARTIAL"
)

// Finding is one ASFF finding as this project writes it. Times are sent as
// RFC 3339 in UTC.
type Finding struct {
	SchemaVersion         string                 `json:"SchemaVersion"`
	ID                    string                 `json:"Id"`
	ProductARN            string                 `json:"ProductArn"`
	GeneratorID           string                 `json:"GeneratorId"`
	AwsAccountID          string                 `json:"AwsAccountId"`
	Types                 []string               `json:"Types"`
	CreatedAt             time.Time              `json:"CreatedAt"`
	UpdatedAt             time.Time              `json:"UpdatedAt"`
	FirstObservedAt       time.Time              `json:"FirstObservedAt,omitzero"`
	LastObservedAt        time.Time              `json:"LastObservedAt,omitzero"`
	Severity              Severity               `json:"Severity"`
	Title                 string                 `json:"Title"`
	Description           string                 `json:"Description"`
	Remediation           *Remediation           `json:"Remediation,omitempty"`
	ProductFields         map[string]string      `json:"ProductFields,omitempty"`
	Resources             []Resource             `json:"Resources"`
	Vulnerabilities       []Vulnerability        `json:"Vulnerabilities,omitempty"`
	FindingProviderFields *FindingProviderFields `json:"FindingProviderFields,omitempty"`
	Workflow              Workflow               `json:"Workflow"`
	Note                  *Note                  `json:"Note,omitempty"`
	RecordState           string                 `json:"RecordState"`
}

// Note is a finding's note: the reason for its workflow status, here a
// suppression's. Text and UpdatedBy are at most MaxNoteLen characters.
type Note struct {
	Text      string    `json:"Text"`
	UpdatedBy string    `json:"UpdatedBy"`
	UpdatedAt time.Time `json:"UpdatedAt"`
}

// MaxNoteLen bounds Note.Text and Note.UpdatedBy (ASFF: 512 each).
const MaxNoteLen = 512

// Severity is a finding's severity: Label on Security Hub's scale, Original
// as the scanner reported it.
type Severity struct {
	Label    string `json:"Label"`
	Original string `json:"Original,omitempty"`
}

// Remediation tells what to do about a finding.
type Remediation struct {
	Recommendation Recommendation `json:"Recommendation"`
}

// Recommendation is the text (and optional link) of a Remediation.
type Recommendation struct {
	Text string `json:"Text"`
	URL  string `json:"Url,omitempty"`
}

// Resource is what a finding is about.
type Resource struct {
	Type      string           `json:"Type"`
	ID        string           `json:"Id"`
	Partition string           `json:"Partition,omitempty"`
	Region    string           `json:"Region,omitempty"`
	Details   *ResourceDetails `json:"Details,omitempty"`
}

// ResourceDetails holds the details of the resource types this project uses.
type ResourceDetails struct {
	AwsEcrContainerImage *EcrContainerImage `json:"AwsEcrContainerImage,omitempty"`
}

// EcrContainerImage is ASFF's AwsEcrContainerImage resource detail.
type EcrContainerImage struct {
	RegistryID     string   `json:"RegistryId"`
	RepositoryName string   `json:"RepositoryName"`
	ImageDigest    string   `json:"ImageDigest"`
	ImageTags      []string `json:"ImageTags,omitempty"`
	// Architecture is arm64, i386 or x86_64 when known.
	Architecture string `json:"Architecture,omitempty"`
}

// Vulnerability is one CVE (or scanner-specific identifier) a finding is about.
type Vulnerability struct {
	ID                 string            `json:"Id"`
	VulnerablePackages []SoftwarePackage `json:"VulnerablePackages,omitempty"`
	Cvss               []Cvss            `json:"Cvss,omitempty"`
	Vendor             *Vendor           `json:"Vendor,omitempty"`
	ReferenceURLs      []string          `json:"ReferenceUrls,omitempty"`
	FixAvailable       string            `json:"FixAvailable,omitempty"`
}

// SoftwarePackage is a vulnerable package.
type SoftwarePackage struct {
	Name           string `json:"Name"`
	Version        string `json:"Version,omitempty"`
	FixedInVersion string `json:"FixedInVersion,omitempty"`
	FilePath       string `json:"FilePath,omitempty"`
}

// Cvss is one CVSS score.
type Cvss struct {
	Version   string  `json:"Version"`
	BaseScore float64 `json:"BaseScore"`
}

// Vendor is who reported the vulnerability.
type Vendor struct {
	Name           string `json:"Name"`
	VendorSeverity string `json:"VendorSeverity,omitempty"`
}

// FindingProviderFields repeats the provider's severity and types where
// Security Hub keeps them apart from customers' edits (BatchUpdateFindings),
// so a re-import never overwrites a customer's change of Severity or Types.
type FindingProviderFields struct {
	Severity *Severity `json:"Severity,omitempty"`
	Types    []string  `json:"Types,omitempty"`
}

// Workflow is the investigation status of a finding.
type Workflow struct {
	Status string `json:"Status"`
}

var (
	accountRE     = regexp.MustCompile(`^[0-9]{12}$`)
	severityRE    = regexp.MustCompile(`^(INFORMATIONAL|LOW|MEDIUM|HIGH|CRITICAL)$`)
	workflowRE    = regexp.MustCompile(`^(NEW|NOTIFIED|RESOLVED|SUPPRESSED)$`)
	recordStateRE = regexp.MustCompile(`^(ACTIVE|ARCHIVED)$`)
	fixRE         = regexp.MustCompile(`^(YES|NO|PARTIAL)$`)
)

// Validate checks f against the ASFF rules BatchImportFindings enforces for
// the fields this project writes: required fields present, lengths and
// counts within ASFF's limits, enumerations valid, text valid UTF-8, and the
// whole finding within MaxFindingBytes. Problems are reported together,
// wrapping domain.ErrInvalid.
func Validate(f Finding) error {
	var p problems
	p.checkIdentity(f)
	p.checkTimes(f)
	p.checkContent(f)
	p.checkResources(f)
	p.checkState(f)
	if len(p) == 0 {
		p.checkSize(f)
	}
	if len(p) > 0 {
		return fmt.Errorf("%w finding %q: %w", domain.ErrInvalid, domain.Truncate(f.ID, 120, domain.Ellipsis), errors.Join(p...))
	}
	return nil
}

// problems collects what Validate finds wrong with a finding, in the order
// of its fields.
type problems []error

func (p *problems) bad(format string, a ...any) { *p = append(*p, fmt.Errorf(format, a...)) }

// text checks a text field: present if required, at most max bytes, UTF-8.
func (p *problems) text(name, s string, max int, required bool) {
	switch {
	case s == "" && required:
		p.bad("%s is empty", name)
	case len(s) > max:
		p.bad("%s is %d bytes, over %d", name, len(s), max)
	case !utf8.ValidString(s):
		p.bad("%s is not valid UTF-8", name)
	}
}

// checkIdentity checks what names the finding: schema, IDs, account, types.
func (p *problems) checkIdentity(f Finding) {
	if f.SchemaVersion != SchemaVersion {
		p.bad("SchemaVersion %q, want %q", f.SchemaVersion, SchemaVersion)
	}
	p.text("Id", f.ID, MaxIDLen, true)
	p.text("ProductArn", f.ProductARN, MaxIDLen, true)
	p.text("GeneratorId", f.GeneratorID, MaxIDLen, true)
	if !accountRE.MatchString(f.AwsAccountID) {
		p.bad("AwsAccountId %q is not 12 digits", f.AwsAccountID)
	}
	if len(f.Types) == 0 || len(f.Types) > MaxTypes {
		p.bad("%d Types, want 1 to %d", len(f.Types), MaxTypes)
	}
	for _, t := range f.Types {
		p.text("a type", t, 128, true)
	}
}

func (p *problems) checkTimes(f Finding) {
	if f.CreatedAt.IsZero() || f.UpdatedAt.IsZero() {
		p.bad("CreatedAt and UpdatedAt are required")
	}
	if f.UpdatedAt.Before(f.CreatedAt) {
		p.bad("UpdatedAt %s is before CreatedAt %s", f.UpdatedAt.Format(time.RFC3339), f.CreatedAt.Format(time.RFC3339))
	}
}

// checkContent checks what the finding says: severity, text, product fields.
func (p *problems) checkContent(f Finding) {
	if !severityRE.MatchString(f.Severity.Label) {
		p.bad("Severity.Label %q is not one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL", f.Severity.Label)
	}
	p.text("Title", f.Title, MaxTitleLen, true)
	p.text("Description", f.Description, MaxDescriptionLen, true)
	if f.Remediation != nil {
		p.text("Remediation.Recommendation.Text", f.Remediation.Recommendation.Text, MaxRemediationLen, true)
	}
	if len(f.ProductFields) > MaxProductFields {
		p.bad("%d ProductFields, over %d", len(f.ProductFields), MaxProductFields)
	}
	for k, v := range f.ProductFields {
		if IsReservedField(k) {
			p.bad("ProductFields key %q: keys under %q are reserved for AWS", domain.Truncate(k, 60, domain.Ellipsis), ReservedFieldPrefix)
		}
		p.text("a ProductFields key", k, MaxFieldKeyLen, true)
		p.text("ProductFields["+k+"]", v, MaxFieldValueLen, true)
	}
}

// checkResources checks what the finding is about: resources and
// vulnerabilities.
func (p *problems) checkResources(f Finding) {
	if len(f.Resources) == 0 || len(f.Resources) > MaxResources {
		p.bad("%d Resources, want 1 to %d", len(f.Resources), MaxResources)
	}
	for _, r := range f.Resources {
		if r.Type == "" || r.ID == "" {
			p.bad("a resource without Type or Id")
		}
	}
	for _, v := range f.Vulnerabilities {
		if v.ID == "" {
			p.bad("a vulnerability without Id")
		}
		if v.FixAvailable != "" && !fixRE.MatchString(v.FixAvailable) {
			p.bad("FixAvailable %q is not YES, NO or PARTIAL", v.FixAvailable)
		}
		if v.Vendor != nil && v.Vendor.Name == "" {
			p.bad("a vulnerability vendor without Name")
		}
	}
}

func (p *problems) checkState(f Finding) {
	if !workflowRE.MatchString(f.Workflow.Status) {
		p.bad("Workflow.Status %q is not one of NEW, NOTIFIED, RESOLVED, SUPPRESSED", f.Workflow.Status)
	}
	if f.Note != nil {
		p.text("Note.Text", f.Note.Text, MaxNoteLen, true)
		p.text("Note.UpdatedBy", f.Note.UpdatedBy, MaxNoteLen, true)
	}
	if !recordStateRE.MatchString(f.RecordState) {
		p.bad("RecordState %q is not ACTIVE or ARCHIVED", f.RecordState)
	}
}

// checkSize checks the encoded finding against Security Hub's bound.
func (p *problems) checkSize(f Finding) {
	if b, err := json.Marshal(f); err != nil {
		p.bad("encode: %v", err)
	} else if len(b) > MaxFindingBytes {
		p.bad("finding is %d bytes, over Security Hub's %d", len(b), MaxFindingBytes)
	}
}
