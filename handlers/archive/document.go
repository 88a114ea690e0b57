package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// DocumentSchemaVersion is the version of the archive document. Add fields
// freely; bump it only for a change that old readers would misread.
const DocumentSchemaVersion = "1"

// document is one archive object: one scan of one digest, as seen from one
// repository. Field order is the struct's, so encoding the same scan twice
// gives the same bytes. It deliberately carries nothing that differs between
// deliveries (no event ID, no handling time).
type document struct {
	SchemaVersion   string        `json:"schemaVersion"`
	Repository      string        `json:"repository"`
	Digest          domain.Digest `json:"digest"`
	Image           string        `json:"image"`
	Tags            []string      `json:"tags"`
	Account         string        `json:"account"`
	Region          string        `json:"region"`
	ScanID          string        `json:"scanId"`
	ScannedAt       string        `json:"scannedAt"`
	Platform        string        `json:"platform,omitempty"`
	OS              string        `json:"os,omitempty"`
	QScannerVersion string        `json:"qscannerVersion,omitempty"`
	ScanTypes       []string      `json:"scanTypes,omitempty"`
	Summary         summary       `json:"summary"`
	Findings        findings      `json:"findings"`
}

// summary is the scan's counts. The summary's top findings are left out: the
// document holds every finding.
type summary struct {
	Vulnerabilities domain.Counts `json:"vulnerabilities"`
	Fixable         domain.Counts `json:"fixable"`
	Secrets         int           `json:"secrets"`
	SecretSeverity  domain.Counts `json:"secretSeverity"`
	Partial         bool          `json:"partial"`
}

// findings are the report's findings. domain.Secret has no field for the
// matched text, so none can be archived.
type findings struct {
	Vulnerabilities []domain.Vulnerability `json:"vulnerabilities"`
	Secrets         []domain.Secret        `json:"secrets"`
}

// newDocument builds the archive document of ev's scan for repository repo,
// with the findings of rep (the full report ev points at).
func newDocument(ev events.ScanEvent, repo events.Repository, rep *domain.Report) document {
	ref := repo.Ref
	ref.Digest = ev.Digest
	d := document{
		SchemaVersion:   DocumentSchemaVersion,
		Repository:      repo.Name,
		Digest:          ev.Digest,
		Image:           ref.Name(),
		Tags:            tagsOf(ev, repo),
		Account:         repo.Account,
		Region:          repo.Region,
		ScanID:          ev.ScanID,
		ScannedAt:       ev.ScannedAt.UTC().Format(time.RFC3339),
		Platform:        firstNonEmpty(ev.Platform, rep.Platform),
		OS:              rep.OS,
		QScannerVersion: firstNonEmpty(ev.QScannerVersion, rep.QScannerVersion),
		ScanTypes:       rep.ScanTypes,
		Findings: findings{
			Vulnerabilities: rep.Vulnerabilities,
			Secrets:         rep.Secrets,
		},
	}
	if s := ev.Summary; s != nil {
		d.Summary = summary{
			Vulnerabilities: s.Vulnerabilities,
			Fixable:         s.Fixable,
			Secrets:         s.Secrets,
			SecretSeverity:  s.SecretSeverity,
			Partial:         s.Partial,
		}
	}
	// Empty lists are written as [] rather than null, for readers that
	// iterate without a check.
	if d.Findings.Vulnerabilities == nil {
		d.Findings.Vulnerabilities = []domain.Vulnerability{}
	}
	if d.Findings.Secrets == nil {
		d.Findings.Secrets = []domain.Secret{}
	}
	return d
}

// encode renders d as one line of JSON and a newline, so that a bucket of
// archive objects can be read as JSON Lines (Athena, S3 Select). Characters
// such as <, > and & are kept as they are rather than escaped for HTML.
func (d document) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode archive document for %s in %s: %w", d.Digest, d.Repository, err)
	}
	return buf.Bytes(), nil
}

// tagsOf lists every tag the digest carries in repo, in first-seen order.
// ev.Repositories gives only the tags of the event's targets, which for an
// ImageReferenced event is the one new tag; since that event rewrites the
// repository's archive object, the object keeps all the tags known so far.
func tagsOf(ev events.ScanEvent, repo events.Repository) []string {
	tags := []string{}
	seen := map[string]bool{}
	add := func(ref domain.ImageRef) {
		if ref.Tag == "" || seen[ref.Tag] || !ref.SameLocation(repo.Ref) {
			return
		}
		seen[ref.Tag] = true
		tags = append(tags, ref.Tag)
	}
	for _, ref := range ev.References {
		add(ref)
	}
	for _, ref := range ev.Targets() {
		add(ref)
	}
	return tags
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
