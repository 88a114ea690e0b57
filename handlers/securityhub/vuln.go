package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"ecrscanner/domain"
	"ecrscanner/infra/securityhubstore"
)

var cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// vulnFinding is the finding for one QID of the image.
func vulnFinding(im image, v domain.Vulnerability) securityhubstore.Finding {
	qid := text(v.QID, 64)
	cves := unique(v.CVEs)
	types := []string{typeVuln}
	if len(cves) > 0 {
		types = []string{typeCVE}
	}
	pkgs := uniquePackages(v.Packages)
	f := im.finding(im.prefix()+"vuln:"+vulnKey(v.QID), vulnGenerator+vulnKey(v.QID), types, vulnSeverity(v), vulnTitle(qid, v, pkgs), vulnDescription(im, qid, v, cves, pkgs))
	f.Remediation = &securityhubstore.Remediation{Recommendation: securityhubstore.Recommendation{
		Text: text(vulnRemediation(pkgs), securityhubstore.MaxRemediationLen),
	}}
	f.ProductFields = im.productFields("qid", v.QID, "qualys_severity", nonZero(v.QualysSeverity), "category", v.Category)
	f.Vulnerabilities = vulnDetails(qid, v, cves, pkgs)
	return f
}

// vulnSeverity is v's label, with Qualys's own 1-5 rating as the original
// where there is one.
func vulnSeverity(v domain.Vulnerability) securityhubstore.Severity {
	original := v.Severity.String()
	if v.QualysSeverity >= 1 && v.QualysSeverity <= 5 {
		original = strconv.Itoa(v.QualysSeverity)
	}
	return securityhubstore.Severity{Label: label(v.Severity), Original: original}
}

// vulnTitle is "QID <qid>", then the vulnerability's title or else the first
// affected package.
func vulnTitle(qid string, v domain.Vulnerability, pkgs []domain.Package) string {
	title := "QID " + qid
	switch {
	case v.Title != "":
		title += ": " + v.Title
	case len(pkgs) > 0:
		title += " in " + pkgs[0].Name
	}
	return title
}

// vulnDescription says what the vulnerability is, how bad, where, and which
// packages it affects with their fixes.
func vulnDescription(im image, qid string, v domain.Vulnerability, cves []string, pkgs []domain.Package) string {
	var d strings.Builder
	fmt.Fprintf(&d, "Qualys QID %s, %s", qid, v.Severity)
	if v.QualysSeverity > 0 {
		fmt.Fprintf(&d, " (Qualys severity %d", v.QualysSeverity)
		if v.CVSS3 > 0 {
			fmt.Fprintf(&d, ", CVSS v3 %.1f", v.CVSS3)
		}
		d.WriteString(")")
	} else if v.CVSS3 > 0 {
		fmt.Fprintf(&d, " (CVSS v3 %.1f)", v.CVSS3)
	}
	fmt.Fprintf(&d, ", in %s.", im.where())
	if len(cves) > 0 {
		fmt.Fprintf(&d, " %s.", strings.Join(cves, ", "))
	}
	if len(pkgs) > 0 {
		d.WriteString(" Affected packages:")
		for i, p := range pkgs {
			if i > 0 {
				d.WriteString(",")
			}
			fmt.Fprintf(&d, " %s %s", p.Name, p.InstalledVersion)
			if p.FixedVersion != "" {
				fmt.Fprintf(&d, " (fixed in %s)", p.FixedVersion)
			} else {
				d.WriteString(" (no fixed version yet)")
			}
		}
		d.WriteString(".")
	}
	if im.qscannerVersion != "" {
		fmt.Fprintf(&d, " Found by QScanner %s.", im.qscannerVersion)
	}
	return d.String()
}

// vulnDetails is ASFF's Vulnerabilities: one per CVE (or, without any, one
// for the QID), each listing the affected packages, within ASFF's bounds.
func vulnDetails(qid string, v domain.Vulnerability, cves []string, pkgs []domain.Package) []securityhubstore.Vulnerability {
	fix := fixAvailable(pkgs)
	var packages []securityhubstore.SoftwarePackage
	for _, p := range pkgs[:min(len(pkgs), maxPackages)] {
		packages = append(packages, securityhubstore.SoftwarePackage{
			Name: text(p.Name, 256), Version: text(p.InstalledVersion, 256), FixedInVersion: text(p.FixedVersion, 256), FilePath: text(p.Path, 512),
		})
	}
	ids := cves
	if len(ids) == 0 {
		ids = []string{"QID-" + qid}
	}
	var out []securityhubstore.Vulnerability
	for _, id := range ids[:min(len(ids), maxCVEs)] {
		vuln := securityhubstore.Vulnerability{
			ID:                 text(id, 128),
			VulnerablePackages: packages,
			Vendor:             &securityhubstore.Vendor{Name: "Qualys", VendorSeverity: nonZero(v.QualysSeverity)},
			FixAvailable:       fix,
		}
		if v.CVSS3 > 0 {
			vuln.Cvss = []securityhubstore.Cvss{{Version: "3", BaseScore: v.CVSS3}}
		}
		if cveRE.MatchString(id) {
			vuln.ReferenceURLs = []string{"https://nvd.nist.gov/vuln/detail/" + id}
		}
		out = append(out, vuln)
	}
	return out
}

// vulnRemediation says which upgrades fix the vulnerability.
func vulnRemediation(pkgs []domain.Package) string {
	var fixes, open []string
	for _, p := range pkgs {
		if p.FixedVersion != "" {
			fixes = append(fixes, p.Name+" to "+p.FixedVersion)
		} else {
			open = append(open, p.Name)
		}
	}
	var b strings.Builder
	if len(fixes) > 0 {
		b.WriteString("Upgrade " + strings.Join(fixes, ", ") + ", then rebuild and push the image.")
	}
	if len(open) > 0 {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString("No fixed version is known yet for " + strings.Join(open, ", ") + ": rebuild the image once one is published, or remove the package.")
	}
	if b.Len() == 0 {
		b.WriteString("No fixed version is known yet: rebuild the image once one is published.")
	}
	return b.String()
}

// fixAvailable is YES when every affected package has a fixed version,
// PARTIAL when some have, NO otherwise.
func fixAvailable(pkgs []domain.Package) string {
	fixed := 0
	for _, p := range pkgs {
		if p.FixedVersion != "" {
			fixed++
		}
	}
	switch {
	case fixed == 0:
		return securityhubstore.FixNo
	case fixed == len(pkgs):
		return securityhubstore.FixYes
	}
	return securityhubstore.FixPartial
}
