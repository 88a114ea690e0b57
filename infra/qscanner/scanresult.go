package qscanner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"ecrscanner/domain"
)

// The parts of <image-id>-ScanResult.json the parser reads: metadata, the
// scans performed and the secrets. The secret structs below deliberately have
// no field for "Match" (nor for "Code", which quotes the matching lines), so
// the decoder skips the matched text: it exists only in the read buffers,
// which the rest of the file overwrites and the parse then drops.

// scanResultFile holds the top-level keys decodeScanResult reads, each under
// its field's name.
type scanResultFile struct {
	SchemaVersion   text
	QScannerVersion text
	ScansPerformed  soft[[]scanPerformed]
	Metadata        soft[scanResultMetadata]
	SecretResults   []secretResult
}

type scanPerformed struct {
	ScanType text `json:"ScanType"`
	Status   text `json:"Status"`
}

type scanResultMetadata struct {
	OS          osName            `json:"OS"`
	Platform    text              `json:"Platform"`
	ImageConfig soft[imageConfig] `json:"ImageConfig"`
}

type imageConfig struct {
	Architecture text `json:"architecture"`
	OS           text `json:"os"`
	Variant      text `json:"variant"`
}

// osName reads the OS either as a string or as {"Family", "Name"}.
type osName string

func (o *osName) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var v struct {
			Family text `json:"Family"`
			Name   text `json:"Name"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*o = osName(strings.TrimSpace(v.Family.String() + " " + v.Name.String()))
		return nil
	}
	var t text
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	*o = osName(t)
	return nil
}

type secretResult struct {
	Target  text            `json:"Target"`
	Secrets []secretFinding `json:"Secrets"`
}

// secretFinding has no Match and no Code field on purpose: see above.
type secretFinding struct {
	RuleID    text              `json:"RuleID"`
	Category  text              `json:"Category"`
	Severity  text              `json:"Severity"`
	Title     text              `json:"Title"`
	StartLine text              `json:"StartLine"`
	EndLine   text              `json:"EndLine"`
	Layer     soft[secretLayer] `json:"Layer"`
}

type secretLayer struct {
	DiffID text `json:"DiffID"`
	Digest text `json:"Digest"`
}

// scanResult is what the parser takes from ScanResult.json.
type scanResult struct {
	version   string
	os        string
	platform  string
	scanTypes []string
	// scansKnown is false when ScansPerformed was missing or unreadable, so
	// nothing can be concluded from the absence of a scan type.
	scansKnown bool
	secrets    []domain.Secret
}

// decodeScanResult reads the keys above, the secrets one file at a time, and
// skips the rest (the inventory among it).
func decodeScanResult(ctx context.Context, r io.Reader) (*scanResult, error) {
	s := newJSONStream(ctx, r)
	var f scanResultFile
	err := s.document(func() error {
		_, err := s.object("document", func(key string) (err error) {
			switch {
			case is(key, "SchemaVersion"):
				return s.decode(&f.SchemaVersion)
			case is(key, "QScannerVersion"):
				return s.decode(&f.QScannerVersion)
			case is(key, "ScansPerformed"):
				return s.decode(&f.ScansPerformed)
			case is(key, "Metadata"):
				return s.decode(&f.Metadata)
			case is(key, "SecretResults"):
				f.SecretResults, err = list[secretResult](s, "SecretResults")
				return err
			}
			return s.skip()
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if f.SchemaVersion == "" {
		return nil, errors.New("no SchemaVersion: not a QScanner ScanResult")
	}
	md := f.Metadata.V
	out := &scanResult{
		version:    f.QScannerVersion.String(),
		os:         string(md.OS),
		platform:   md.Platform.String(),
		scansKnown: len(f.ScansPerformed.V) > 0,
		secrets:    []domain.Secret{},
	}
	if out.platform == "" {
		ic := md.ImageConfig.V
		if ic.OS != "" && ic.Architecture != "" {
			out.platform = ic.OS.String() + "/" + ic.Architecture.String()
			if ic.Variant != "" {
				out.platform += "/" + ic.Variant.String()
			}
		}
	}
	for _, sp := range f.ScansPerformed.V {
		if t := strings.ToLower(sp.ScanType.String()); t != "" {
			out.scanTypes = append(out.scanTypes, t)
		}
	}
	for _, sr := range f.SecretResults {
		for _, s := range sr.Secrets {
			start, _ := s.StartLine.integer()
			end, _ := s.EndLine.integer()
			out.secrets = append(out.secrets, domain.Secret{
				RuleID:    s.RuleID.String(),
				Category:  s.Category.String(),
				Title:     s.Title.String(),
				Severity:  wordSeverity(s.Severity),
				File:      sr.Target.String(),
				StartLine: start,
				EndLine:   end,
				Layer:     firstText(s.Layer.V.DiffID, s.Layer.V.Digest).String(),
			})
		}
	}
	return out, nil
}

// ranPackageScan reports whether the scans performed imply a vulnerability
// report. Unknown scans are assumed to include one: a missing report must not
// pass for a clean image.
func (s *scanResult) ranPackageScan() bool {
	if !s.scansKnown {
		return true
	}
	for _, t := range s.scanTypes {
		switch t {
		case "os", "sca", "pkg":
			return true
		}
	}
	return false
}
