package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"ecrscanner/domain"
)

// OpenVEX v0.2.0 (https://github.com/openvex/spec/blob/main/OPENVEX-SPEC.md):
// a document (@context, @id, author, timestamp, version, statements), each
// statement a vulnerability, its products and a status; "not_affected"
// needs a justification or an impact_statement, and a suppression's reason
// is the latter (which of the spec's justification labels applies is not
// something the rule records).
const openVEXContext = "https://openvex.dev/ns/v0.2.0"

type vexDocument struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Author     string         `json:"author"`
	Role       string         `json:"role,omitempty"`
	Timestamp  string         `json:"timestamp"`
	Version    int            `json:"version"`
	Tooling    string         `json:"tooling,omitempty"`
	Statements []vexStatement `json:"statements"`
}

type vexStatement struct {
	Vulnerability   vexVulnerability `json:"vulnerability"`
	Timestamp       string           `json:"timestamp"`
	Products        []vexProduct     `json:"products"`
	Status          string           `json:"status"`
	StatusNotes     string           `json:"status_notes,omitempty"`
	ImpactStatement string           `json:"impact_statement"`
}

type vexVulnerability struct {
	Name string `json:"name"`
}

type vexProduct struct {
	ID string `json:"@id"`
}

// buildVEX turns the rules active at now into an OpenVEX document. Only
// rules that name a vulnerability and a concrete repository can be stated:
// OpenVEX has no glob products and no package-only or secret statements.
// What is left out is returned, each with the reason, for the caller to
// report.
func buildVEX(ss domain.Suppressions, author, registry string, now time.Time) (vexDocument, []string) {
	doc := vexDocument{Context: openVEXContext, Author: author, Role: "Document Creator", Timestamp: now.UTC().Format(time.RFC3339), Version: 1, Tooling: "ecrscan suppress export", Statements: []vexStatement{}}
	var skipped []string
	for _, r := range ss.Rules {
		switch {
		case !r.Active(now):
			skipped = append(skipped, r.ID+": expired")
			continue
		case r.Vulnerability == "":
			skipped = append(skipped, r.ID+": "+r.Target()+" is not a vulnerability")
			continue
		}
		st := vexStatement{
			Vulnerability: vexVulnerability{Name: vexName(r.Vulnerability)}, Timestamp: r.CreatedAt.UTC().Format(time.RFC3339),
			Status: "not_affected", ImpactStatement: r.Reason,
			StatusNotes: fmt.Sprintf("ecrscan suppression %s, owner %s, expires %s", r.ID, r.Owner, r.ExpiresAt.UTC().Format(time.RFC3339)),
		}
		for _, repo := range r.Repositories {
			if strings.ContainsAny(repo, "*?[") {
				skipped = append(skipped, r.ID+": glob "+repo+" is not a product")
				continue
			}
			st.Products = append(st.Products, ociProducts(registry, repo, r.Digests)...)
		}
		if len(st.Products) > 0 {
			doc.Statements = append(doc.Statements, st)
		}
	}
	b, _ := json.Marshal(doc.Statements)
	sum := sha256.Sum256(append([]byte(doc.Timestamp), b...))
	doc.ID = "https://openvex.dev/docs/public/vex-" + hex.EncodeToString(sum[:])
	return doc, skipped
}

// vexName: a CVE as it is; a QID as "QID-<n>", the form Qualys writes.
func vexName(v string) string {
	if strings.HasPrefix(v, "CVE-") {
		return v
	}
	return "QID-" + v
}

// ociProducts are package URLs of type oci
// (https://github.com/package-url/purl-spec/blob/master/types-doc/oci-definition.md):
// pkg:oci/<last path segment>[@<digest>]?repository_url=<registry>/<repository>.
func ociProducts(registry, repo string, digests []domain.Digest) []vexProduct {
	base := "pkg:oci/" + path.Base(repo)
	q := ""
	if registry != "" {
		q = "?repository_url=" + url.QueryEscape(registry+"/"+repo)
	}
	if len(digests) == 0 {
		return []vexProduct{{ID: base + q}}
	}
	var out []vexProduct
	for _, d := range digests {
		out = append(out, vexProduct{ID: base + "@" + url.QueryEscape(string(d)) + q})
	}
	return out
}

func suppressExport(args []string, stdout, stderr io.Writer) int {
	var f suppressFlags
	fs := flag.NewFlagSet("suppress export", flag.ContinueOnError)
	f.register(fs)
	author := fs.String("author", "ecr-image-scanner", "")
	registry := fs.String("registry", "", "")
	output := fs.String("output", "", "")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	ctx := context.Background()
	store, d, err := openSuppressions(ctx, f)
	if err != nil {
		return suppressFail(stderr, exitFailed, "%v", err)
	}
	ss, _, err := store.Load(ctx)
	if err != nil {
		return suppressFail(stderr, exitFailed, "%v", err)
	}
	if *registry == "" && d != nil {
		*registry = d.Account + ".dkr.ecr." + d.Region + ".amazonaws.com"
	}
	doc, skipped := buildVEX(ss, *author, *registry, suppressNow())
	for _, s := range skipped {
		fmt.Fprintf(stderr, "ecrscan suppress export: left out %s\n", s)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return suppressFail(stderr, exitFailed, "encode OpenVEX: %v", err)
	}
	b = append(b, '\n')
	if *output == "" {
		_, _ = stdout.Write(b)
		return exitOK
	}
	if err := os.WriteFile(*output, b, 0o644); err != nil {
		return suppressFail(stderr, exitFailed, "write %s: %v", *output, err)
	}
	fmt.Fprintf(stderr, "ecrscan suppress export: %d statement(s) written to %s\n", len(doc.Statements), *output)
	return exitOK
}
