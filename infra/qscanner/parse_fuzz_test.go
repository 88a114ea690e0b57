package qscanner

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

// fuzzImage names the output files the fuzz targets write.
const fuzzImage = "2b689a45872480343e2aca542b6dfc260378f1adc2627fd5b54365bdd5a33a66"

// addFixtures seeds f with every fixture file whose name ends in suffix.
func addFixtures(f *testing.F, suffix string) {
	for _, b := range testkit.Files(f, filepath.Join("..", "..", "testdata", "qscanner", "*", "*"+suffix)) {
		f.Add(b)
	}
}

// writeFuzzOutput writes the output files named in files (suffix to content)
// into a fresh directory.
func writeFuzzOutput(t *testing.T, files map[string][]byte) string {
	dir := t.TempDir()
	for suffix, b := range files {
		if err := os.WriteFile(filepath.Join(dir, fuzzImage+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkParsed asserts what every parse promises: an error is a Failure of
// a known class, else the report's text is valid UTF-8, its metadata within
// the bounds, its severities known values, and it encodes.
func checkParsed(t *testing.T, rep *domain.Report, err error) {
	t.Helper()
	if err != nil {
		var f domain.Failure
		if !errors.As(err, &f) || f.Class != domain.FailureUnparseableOutput {
			t.Fatalf("error is not an unparseable-output failure: %v", err)
		}
		if rep != nil {
			t.Fatalf("error %v with a report", err)
		}
		return
	}
	if rep == nil {
		t.Fatal("no report and no error")
	}
	if len(rep.Platform) > maxPlatform || len(rep.QScannerVersion) > maxVersion || len(rep.OS) > maxOS || len(rep.ScanTypes) > maxScanTypes {
		t.Fatalf("metadata over its bounds: %q %q %q %d types", rep.Platform, rep.QScannerVersion, rep.OS, len(rep.ScanTypes))
	}
	for _, v := range rep.Vulnerabilities {
		if _, err := domain.ParseSeverity(v.Severity.String()); err != nil {
			t.Fatalf("vulnerability %q has severity %v: %v", v.QID, v.Severity, err)
		}
	}
	for _, s := range rep.Secrets {
		if _, err := domain.ParseSeverity(s.Severity.String()); err != nil {
			t.Fatalf("secret %q has severity %v: %v", s.RuleID, s.Severity, err)
		}
	}
	for _, s := range reportStrings(t, rep) {
		if !utf8.ValidString(s) {
			t.Fatalf("report text is not valid UTF-8: %q", s)
		}
	}
}

// reportStrings is every string in rep's JSON form.
func reportStrings(t *testing.T, rep *domain.Report) []string {
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("report does not encode: %v", err)
	}
	var out []string
	dec := json.NewDecoder(strings.NewReader(string(b)))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("report JSON: %v", err)
		}
		if s, ok := tok.(string); ok {
			out = append(out, s)
		}
	}
}

// splitMatched splits the strings of a JSON document into those inside the
// value of a Match or Code key (a secret's matched text and its context,
// which the parser must never read) and all the others, keys included. It
// returns ok false for a document it cannot tokenise.
func splitMatched(b []byte) (matched, others []string, ok bool) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	// Each open container records whether it is an object, whether the next
	// token is a key, and whether it sits under a Match or Code key.
	type frame struct{ object, wantKey, secret bool }
	var stack []frame
	pendingSecret := false // the last key read was Match or Code
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return matched, others, true
		}
		if err != nil {
			return nil, nil, false
		}
		inSecret := len(stack) > 0 && stack[len(stack)-1].secret
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].wantKey {
			if key, isKey := tok.(string); isKey {
				others = append(others, key)
				pendingSecret = inSecret || strings.EqualFold(key, "Match") || strings.EqualFold(key, "Code")
				stack[top].wantKey = false
				continue
			}
		}
		secret := inSecret || pendingSecret
		pendingSecret = false
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				stack = append(stack, frame{object: v == '{', wantKey: v == '{', secret: secret})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if secret {
				matched = append(matched, v)
			} else {
				others = append(others, v)
			}
		case json.Number:
			others = append(others, v.String())
		}
		if top := len(stack) - 1; top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
}

// FuzzParseScanResult parses any ScanResult.json (no SARIF: a partial
// parse) and checks checkParsed's promises and that no secret's matched
// text reaches the report: a Match or Code value that appears nowhere else
// in the input (case aside: the parser lowercases some fields) and that the
// parser could not rebuild by joining or cutting other fields (it has no
// space, slash or ellipsis) must appear in no string of the report.
func FuzzParseScanResult(f *testing.F) {
	addFixtures(f, scanResultSuffix)
	f.Add([]byte(`{"SchemaVersion":2,"SecretResults":[{"Target":"/app/.env","Secrets":[{"RuleID":"aws","Title":"AWS key",` +
		`"Severity":"CRITICAL","StartLine":"3","Match":"AKIAZQ3EXAMPLEFAKE42","Code":{"Lines":[{"Content":"key=AKIAZQ3EXAMPLEFAKE42"}]}}]}]}`))

	f.Fuzz(func(t *testing.T, sr []byte) {
		dir := writeFuzzOutput(t, map[string][]byte{scanResultSuffix: sr})
		rep, err := ParsePartialDir(dir)
		checkParsed(t, rep, err)
		if err != nil {
			return
		}
		matched, others, ok := splitMatched(sr)
		if !ok {
			return
		}
		lowered := strings.ToLower(strings.Join(others, "\x00"))
		got := reportStrings(t, rep)
		for _, m := range matched {
			m = strings.TrimSpace(m)
			if len(m) < 8 || strings.ContainsAny(m, " /…") || strings.Contains(lowered, strings.ToLower(m)) {
				continue
			}
			for _, s := range got {
				if strings.Contains(strings.ToLower(s), strings.ToLower(m)) {
					t.Fatalf("matched text %q reached the report in %q", m, s)
				}
			}
		}
	})
}

// FuzzParseSARIF parses any Report.sarif.json beside a good ScanResult.json
// and checks checkParsed's promises, and that a report's digest, when set,
// is a valid one.
func FuzzParseSARIF(f *testing.F) {
	addFixtures(f, sarifSuffix)
	sr, err := os.ReadFile(filepath.Join("..", "..", "testdata", "qscanner", "basic", fuzzImage+scanResultSuffix))
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, sarif []byte) {
		dir := writeFuzzOutput(t, map[string][]byte{scanResultSuffix: sr, sarifSuffix: sarif})
		rep, err := ParseDir(dir)
		checkParsed(t, rep, err)
		if err != nil {
			return
		}
		if rep.Digest != "" {
			if _, err := domain.ParseDigest(string(rep.Digest)); err != nil {
				t.Fatalf("report digest %q: %v", rep.Digest, err)
			}
		}
		if rep.Vulnerabilities == nil {
			t.Fatal("nil vulnerability list: it must say none, not unknown")
		}
	})
}
