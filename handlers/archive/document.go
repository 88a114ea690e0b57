package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
)

// DocumentSchemaVersion is the version of the archive document. Add fields
// freely; bump it only for a change that old readers would misread.
const DocumentSchemaVersion = "1"

// document is one archive object: one scan of one digest, as seen from one
// repository. Field order is the struct's, so encoding the same scan twice
// gives the same bytes. It deliberately carries nothing that differs between
// deliveries (no event ID, no handling time). The findings, the bulk of it,
// are not here: they are encoded once as the report is walked
// (findingsWriter) and follow this head in every repository's object.
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
	// "findings" follows: {"vulnerabilities":[...],"secrets":[...]}, the
	// report's findings. domain.Secret has no field for the matched text, so
	// none can be archived.
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

// newDocument builds the head of the archive document of ev's scan for
// repository repo, with the fields of head (the head of the report ev
// points at).
func newDocument(ev events.ScanEvent, repo events.Repository, head domain.ReportHead) document {
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
		Platform:        firstNonEmpty(ev.Platform, head.Platform),
		OS:              head.OS,
		QScannerVersion: firstNonEmpty(ev.QScannerVersion, head.QScannerVersion),
		ScanTypes:       head.ScanTypes,
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
	return d
}

// encodeHead renders d as the start of one line of JSON, open for the
// findings: {...,"findings":. Characters such as <, > and & are kept as
// they are rather than escaped for HTML.
func (d document) encodeHead() ([]byte, error) {
	b, err := encodeLine(d)
	if err != nil {
		return nil, fmt.Errorf("encode archive document for %s in %s: %w", d.Digest, d.Repository, err)
	}
	b = bytes.TrimSuffix(b, []byte("}\n")) // reopen the object
	return append(b, `,"findings":`...), nil
}

// documentEnd closes the findings' object, then the document, and ends the
// line, so that a bucket of archive objects can be read as JSON Lines
// (Athena, S3 Select).
var documentEnd = []byte("}\n")

// encodeLine is v as encoding/json writes it, HTML characters unescaped,
// with a newline.
func encodeLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// findingsWriter encodes a report's findings, as walked, into the JSON
// object {"vulnerabilities":[...],"secrets":[...]}, as encoding/json would
// write those two lists of the report: empty lists as [], not null. It
// keeps them gzip-compressed (findings compress about twenty-fold), to be
// inflated as each repository's object is sent.
type findingsWriter struct {
	compressed chunks
	zw         *gzip.Writer
	size       int64 // uncompressed
	limit      int   // MaxCompressedFindings when 0
	vulns      int
	secrets    int
	inSecrets  bool
}

// MaxCompressedFindings bounds the compressed findings an archive document
// holds until every repository's object is written, and so the memory the
// function needs for them. A realistic 100,000-finding report's findings
// (40 MB of JSON) compress to about 2 MB, a hostile 180,000-finding one's
// (165 MB) to about 9 MB. Findings that compress worse than that, as only
// random text would, are refused for good past this.
const MaxCompressedFindings = 32 << 20

func (w *findingsWriter) vulnerability(v domain.Vulnerability) error {
	if w.vulns == 0 {
		w.write([]byte(`{"vulnerabilities":[`))
	}
	w.vulns++
	return w.item(w.vulns, v)
}

func (w *findingsWriter) secret(s domain.Secret) error {
	w.openSecrets()
	w.secrets++
	return w.item(w.secrets, s)
}

// openSecrets ends the vulnerabilities and opens the secrets.
func (w *findingsWriter) openSecrets() {
	if w.inSecrets {
		return
	}
	w.inSecrets = true
	if w.vulns == 0 {
		w.write([]byte(`{"vulnerabilities":[`))
	}
	w.write([]byte(`],"secrets":[`))
}

// write compresses p. Writing to chunks cannot fail, nor can the gzip
// writer over them.
func (w *findingsWriter) write(p []byte) {
	if w.zw == nil {
		w.zw, _ = gzip.NewWriterLevel(&w.compressed, gzip.BestSpeed) // a valid level
	}
	n, _ := w.zw.Write(p)
	w.size += int64(n)
}

// item writes the nth entry of a list. A finding encoding/json cannot write
// (a NaN score) never will be, nor will findings past MaxCompressedFindings
// fit: those errors are permanent.
func (w *findingsWriter) item(n int, v any) error {
	b, err := encodeLine(v)
	if err != nil {
		return consume.Permanent(fmt.Errorf("encode archive document: %w", err))
	}
	if n > 1 {
		w.write([]byte(","))
	}
	w.write(b[:len(b)-1]) // without encodeLine's newline
	limit := w.limit
	if limit == 0 {
		limit = MaxCompressedFindings
	}
	if held := w.compressed.len(); held > limit {
		return consume.Permanent(fmt.Errorf("%w report: its findings compress to more than the archive's %d MiB limit, at vulnerability %d, secret %d",
			domain.ErrInvalid, limit>>20, w.vulns, w.secrets))
	}
	return nil
}

// close ends the object and returns it, compressed.
func (w *findingsWriter) close() segment {
	w.openSecrets()
	w.write([]byte("]}"))
	_ = w.zw.Close() // flushes into chunks, which cannot fail
	return segment{compressed: w.compressed, size: w.size}
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
