package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/securityhubstore"
)

// Finding identity. A finding's Id names the image (repository and digest),
// so that every image of a repository has findings of its own: a second image
// pushed under another tag leaves the first image's findings alone, a rescan
// of the same image updates the same findings (and resolves those its report
// no longer has), and an image's findings are resolved only when no tag of the
// repository points at it any more (see Handler).
const (
	// idScheme starts every Id:
	// qualys-qscanner:<account>:<region>:<repository>:<digest hex>:vuln:<QID> and
	// qualys-qscanner:<account>:<region>:<repository>:<digest hex>:secret:<hash of rule, file, line>.
	// ECR repository names cannot hold ':', so the prefix of one repository
	// never matches another's, nor an image's another image's. Findings
	// written before Ids named the image lack the digest segment
	// (<repository>:vuln:<QID>); see legacyOf.
	idScheme        = "qualys-qscanner"
	generatorPrefix = "qualys-qscanner/"
	vulnGenerator   = generatorPrefix + "vuln/"
	secretGenerator = generatorPrefix + "secret/"
	// scannedAtField records the scan's time on each finding, so that the
	// handler can tell which scan an image's findings show (domain.CurrentImage).
	scannedAtField = generatorPrefix + "scanned_at"
)

// ASFF types (the namespace/category/classifier taxonomy).
const (
	typeCVE    = "Software and Configuration Checks/Vulnerabilities/CVE"
	typeVuln   = "Software and Configuration Checks/Vulnerabilities"
	typeSecret = "Sensitive Data Identifications/Passwords"
)

// Bounds on what one finding carries, so that it stays far below Security
// Hub's 240 KB whatever the scanner reported; the description says how many
// were left out.
const (
	maxCVEs     = 10
	maxPackages = 10
)

// repositoryPrefix is the Id prefix shared by every finding of one
// repository, and only by them.
func repositoryPrefix(account, region, repository string) string {
	return idScheme + ":" + account + ":" + region + ":" + repository + ":"
}

// imagePrefix is the Id prefix shared by every finding of one image in one
// repository, and only by them.
func imagePrefix(account, region, repository string, digest domain.Digest) string {
	return repositoryPrefix(account, region, repository) + digest.Hex() + ":"
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// vulnKey is a QID as it goes into an Id: as it is when it is a plain token
// (QIDs are numbers), else a hash of it.
func vulnKey(qid string) string {
	if plainKeyRE.MatchString(qid) {
		return qid
	}
	return "h" + hashOf(qid)
}

// secretKey identifies a secret by rule, file and line: the same credential
// found again in the same place is the same finding.
func secretKey(s domain.Secret) string {
	return hashOf(s.RuleID, s.File, strconv.Itoa(s.StartLine))
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// image is what every finding of one repository's scan shares.
type image struct {
	product         securityhubstore.Product
	account, region string
	repository      string
	digest          domain.Digest
	tags            []string
	platform        string
	qscannerVersion string
	scanID          string
	scannedAt       time.Time
	// observedAt is when the repository was seen holding this image: the
	// event's time, so that every delivery of one event writes the same
	// finding.
	observedAt time.Time
}

// prefix is the Id prefix of the image's findings.
func (im image) prefix() string { return imagePrefix(im.account, im.region, im.repository, im.digest) }

// repoPrefix is the Id prefix of every finding of the image's repository.
func (im image) repoPrefix() string { return repositoryPrefix(im.account, im.region, im.repository) }

// resourceID names the image the way Amazon Inspector does in Security Hub:
// the repository ARN followed by the digest.
func (im image) resourceID() string {
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s/%s", im.product.Partition, im.region, im.account, im.repository, im.digest)
}

func (im image) resource() securityhubstore.Resource {
	return securityhubstore.Resource{
		Type:      "AwsEcrContainerImage",
		ID:        im.resourceID(),
		Partition: im.product.Partition,
		Region:    im.region,
		Details: &securityhubstore.ResourceDetails{AwsEcrContainerImage: &securityhubstore.EcrContainerImage{
			RegistryID:     im.account,
			RepositoryName: im.repository,
			ImageDigest:    im.digest.String(),
			// Tags go whole: ASFF documents no length for an ImageTags
			// entry (Security Hub API Reference, AwsEcrContainerImageDetails:
			// "Array of strings", pattern .*\S.*), and ECR's are at most 300
			// characters (domain.MaxTagLen). A cut tag would name a tag the
			// image does not have. No tag goes into Id, Title, Description,
			// ProductFields or the resource Id, which have lower limits.
			ImageTags:    im.tags,
			Architecture: architecture(im.platform),
		}},
	}
}

// architecture maps an OCI platform to the values ASFF accepts (arm64, i386,
// x86_64); others are left out.
func architecture(platform string) string {
	parts := strings.Split(platform, "/")
	if len(parts) < 2 {
		return ""
	}
	switch parts[1] {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	case "386":
		return "i386"
	}
	return ""
}

// where is the image as text: repository@sha256:<12 hex> (platform).
func (im image) where() string {
	s := im.repository + "@sha256:" + im.digest.Short()
	if im.platform != "" {
		s += " (" + im.platform + ")"
	}
	return s
}

func (im image) productFields(extra ...string) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v = text(v, securityhubstore.MaxFieldValueLen); v != "" {
			m["qualys-qscanner/"+k] = v
		}
	}
	set("scan_id", im.scanID)
	set("image_digest", im.digest.String())
	set("platform", im.platform)
	set("qscanner_version", im.qscannerVersion)
	if !im.scannedAt.IsZero() {
		set("scanned_at", im.scannedAt.UTC().Format(time.RFC3339Nano))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		set(extra[i], extra[i+1])
	}
	return m
}

// label maps a severity onto Security Hub's labels. ASFF has no UNKNOWN: an
// unknown severity is INFORMATIONAL, with Original saying UNKNOWN.
func label(s domain.Severity) string {
	switch s {
	case domain.SeverityCritical:
		return securityhubstore.SeverityCritical
	case domain.SeverityHigh:
		return securityhubstore.SeverityHigh
	case domain.SeverityMedium:
		return securityhubstore.SeverityMedium
	case domain.SeverityLow:
		return securityhubstore.SeverityLow
	}
	return securityhubstore.SeverityInformational
}

// finding fills in what every finding has. CreatedAt and FirstObservedAt are
// the observation time here; the handler keeps an existing finding's own.
func (im image) finding(id, generator string, types []string, sev securityhubstore.Severity, title, description string) securityhubstore.Finding {
	return securityhubstore.Finding{
		SchemaVersion:   securityhubstore.SchemaVersion,
		ID:              id,
		ProductARN:      im.product.ARN,
		GeneratorID:     generator,
		AwsAccountID:    im.findingAccount(),
		Types:           types,
		CreatedAt:       im.observedAt,
		UpdatedAt:       im.observedAt,
		FirstObservedAt: im.observedAt,
		LastObservedAt:  im.observedAt,
		Severity:        sev,
		Title:           text(title, securityhubstore.MaxTitleLen),
		Description:     text(description, securityhubstore.MaxDescriptionLen),
		Resources:       []securityhubstore.Resource{im.resource()},
		FindingProviderFields: &securityhubstore.FindingProviderFields{
			Severity: &securityhubstore.Severity{Label: sev.Label, Original: sev.Original},
			Types:    append([]string(nil), types...),
		},
		Workflow:    securityhubstore.Workflow{Status: securityhubstore.WorkflowNew},
		RecordState: securityhubstore.RecordStateActive,
	}
}

// findingsOf maps a report to one finding per QID and one per secret (rule,
// file, line), in the report's order. Repeats of one identity are merged, so
// every Id appears once.
func findingsOf(im image, rep *domain.Report) []securityhubstore.Finding {
	var out []securityhubstore.Finding
	vulns := map[string]int{}
	var merged []domain.Vulnerability
	for _, v := range rep.Vulnerabilities {
		k := vulnKey(v.QID)
		if i, ok := vulns[k]; ok {
			m := &merged[i]
			m.Severity = max(m.Severity, v.Severity)
			m.QualysSeverity = max(m.QualysSeverity, v.QualysSeverity)
			m.CVSS3 = max(m.CVSS3, v.CVSS3)
			m.CVEs = append(m.CVEs, v.CVEs...)
			m.Packages = append(m.Packages, v.Packages...)
			continue
		}
		vulns[k] = len(merged)
		v.CVEs = append([]string(nil), v.CVEs...)
		v.Packages = append([]domain.Package(nil), v.Packages...)
		merged = append(merged, v)
	}
	for _, v := range merged {
		out = append(out, vulnFinding(im, v))
	}
	secrets := map[string]bool{}
	for _, s := range rep.Secrets {
		k := secretKey(s)
		if secrets[k] {
			continue
		}
		secrets[k] = true
		out = append(out, secretFinding(im, s))
	}
	return out
}

// secretFinding describes where a secret is, never what it is: a
// domain.Secret has no matched text to leak.
func secretFinding(im image, s domain.Secret) securityhubstore.Finding {
	rule := text(s.RuleID, 200)
	if rule == "" {
		rule = "unknown"
	}
	sev := securityhubstore.Severity{Label: label(s.Severity), Original: s.Severity.String()}
	what := s.Title
	if what == "" {
		what = rule
	}
	at := s.File
	if s.StartLine > 0 {
		at += ":" + strconv.Itoa(s.StartLine)
	}

	var d strings.Builder
	fmt.Fprintf(&d, "QScanner rule %s", rule)
	if s.Category != "" {
		fmt.Fprintf(&d, " (%s)", s.Category)
	}
	fmt.Fprintf(&d, " matched %s", s.File)
	switch {
	case s.StartLine > 0 && s.EndLine > s.StartLine:
		fmt.Fprintf(&d, ", lines %d-%d", s.StartLine, s.EndLine)
	case s.StartLine > 0:
		fmt.Fprintf(&d, ", line %d", s.StartLine)
	}
	if s.Layer != "" {
		fmt.Fprintf(&d, ", in layer %s", s.Layer)
	}
	fmt.Fprintf(&d, ", in %s. The matched text is not recorded.", im.where())

	f := im.finding(im.prefix()+"secret:"+secretKey(s), secretGenerator+rule, []string{typeSecret}, sev, "Secret: "+what+" in "+at, d.String())
	f.Remediation = &securityhubstore.Remediation{Recommendation: securityhubstore.Recommendation{
		Text: "Revoke and rotate this credential: anyone who can pull the image can read it. Then rebuild the image without it and supply secrets at run time, for example from AWS Secrets Manager.",
	}}
	f.ProductFields = im.productFields(
		"secret_rule", s.RuleID, "secret_category", s.Category, "file", s.File,
		"line", nonZero(s.StartLine), "end_line", nonZero(s.EndLine), "layer", s.Layer)
	return f
}

// unique drops empty and repeated entries, keeping the first-seen order.
func unique(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// uniquePackages drops nameless and repeated packages.
func uniquePackages(ps []domain.Package) []domain.Package {
	var out []domain.Package
	seen := map[domain.Package]bool{}
	for _, p := range ps {
		p.Layer = ""
		if p.Name == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

func nonZero(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// text makes scanner output fit an ASFF field: valid UTF-8, at most max
// bytes, cut at a character boundary with an ellipsis when too long.
func text(s string, max int) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	return domain.Truncate(s, max, domain.Ellipsis)
}
