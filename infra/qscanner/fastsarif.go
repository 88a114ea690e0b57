package qscanner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime"

	"ecrscanner/domain"
)

// The fast path of the SARIF parse: the same reading as decodeSARIF and
// runReader, over the one-pass lexer instead of encoding/json. It builds the
// same sarifRule and sarifResult values encoding/json would (leaf values
// through the same UnmarshalJSON methods, on the same bytes) and counts them
// with the same runReader, so the report is the same; whatever it is not
// sure to read the same way it leaves to decodeSARIF (errSlowPath), which
// also gives every error its usual message. TestFastSARIFMatchesReference
// and FuzzFastSARIF check the two against each other.

// readSARIF reads a SARIF file by the fast path, and again by decodeSARIF
// when the fast path leaves it.
func readSARIF(ctx context.Context, path string) (*sarifReport, error) {
	sa, err := readFile(ctx, path, decodeSARIFFast)
	if errors.Is(err, errSlowPath) {
		// What the fast path built before it gave up is garbage now; collect
		// it before the second read builds its own, so that a file left late
		// does not hold both at once (no memory limit is set for the GC).
		runtime.GC()
		return readFile(ctx, path, decodeSARIF)
	}
	return sa, err
}

// Field names, in the order of the indexes the readers below switch on.
var (
	documentKeys   = []string{"runs"}
	runKeys        = []string{"tool", "results", "properties"}
	toolKeys       = []string{"driver"}
	driverKeys     = []string{"version", "rules"}
	ruleKeys       = []string{"id", "name", "shortDescription", "properties"}
	rulePropKeys   = []string{"QID", "title", "severity", "customerSeverity", "cve-ids", "category", "cvssInfo"}
	cvssInfoKeys   = []string{"v3"}
	cvssScoreKeys  = []string{"baseScore"}
	resultKeys     = []string{"ruleId", "ruleIndex", "properties"}
	resultPropKeys = []string{"QID", "severity", "vulnerableSoftware"}
	softwareKeys   = []string{"name", "installedVersion", "fixedVersion", "layerSHA", "path"}
)

// decodeSARIFFast is decodeSARIF over the lexer; it returns errSlowPath for
// anything it leaves to decodeSARIF, including every error.
func decodeSARIFFast(ctx context.Context, r io.Reader) (*sarifReport, error) {
	l := newLexer(ctx, r)
	return fast(func() *sarifReport {
		out := &sarifReport{vulnerabilities: []domain.Vulnerability{}}
		byQID := map[string]int{}
		runs, sawRuns := 0, false
		if l.next() != '{' {
			slow()
		}
		l.object(documentKeys, func(i int) {
			if i != 0 {
				l.skip()
				return
			}
			if l.array(func() { readRunFast(l, out, byQID); runs++ }) {
				slow() // "runs": null is an error, with its message
			}
			sawRuns = true
		})
		if !l.atEnd() || !sawRuns || runs == 0 {
			slow()
		}
		return out
	})
}

// readRunFast is runReader.read.
func readRunFast(l *lexer, out *sarifReport, byQID map[string]int) {
	r := runReader{out: out, byQID: byQID}
	null := fields(l, runKeys, []json.Unmarshaler{nil, nil, &r.props}, func(i int) {
		if i == 0 {
			r.readToolFast(l)
		} else {
			r.readResultsFast(l)
		}
	})
	if null || !r.hasResults || r.finish(l.ctx) != nil {
		slow()
	}
}

// fields reads an object: the value of names[i] by leaves[i]'s UnmarshalJSON,
// as encoding/json reads it, or by other(i) where leaves[i] is nil; other
// keys are skipped. It reports a null.
func fields(l *lexer, names []string, leaves []json.Unmarshaler, other func(i int)) (null bool) {
	return l.object(names, func(i int) {
		switch {
		case i < 0:
			l.skip()
		case leaves[i] != nil:
			leaf(l, leaves[i])
		default:
			other(i)
		}
	})
}

// leaf reads a value with its UnmarshalJSON method.
func leaf(l *lexer, u json.Unmarshaler) {
	if err := u.UnmarshalJSON(l.raw()); err != nil {
		slow()
	}
}

func (r *runReader) readToolFast(l *lexer) {
	driver := func(int) {
		if fields(l, driverKeys, []json.Unmarshaler{&r.version, nil}, func(int) { r.rules = readRulesFast(l) }) {
			slow()
		}
	}
	if fields(l, toolKeys, []json.Unmarshaler{nil}, driver) {
		slow()
	}
	r.indexRules()
}

// readRulesFast is list[sarifRule].
func readRulesFast(l *lexer) []sarifRule {
	rules := []sarifRule{}
	if l.array(func() {
		rules = append(rules, sarifRule{})
		ru := &rules[len(rules)-1]
		p := &ru.Properties
		props := func(int) {
			// A null leaves the bag empty, as in encoding/json.
			fields(l, rulePropKeys, []json.Unmarshaler{&p.QID, &p.Title, &p.Severity, &p.CustomerSeverity, &p.CVEIDs, &p.Category, nil},
				func(int) { readCVSSFast(l, &p.CVSSInfo) })
		}
		if fields(l, ruleKeys, []json.Unmarshaler{&ru.ID, &ru.Name, &ru.ShortDescription, nil}, props) {
			slow()
		}
	}) {
		return nil
	}
	return rules
}

// readCVSSFast reads cvssInfo as soft[cvssInfo] does: a value of the wrong
// type, here or in v3, leaves it empty; a null reads as empty too.
func readCVSSFast(l *lexer, s *soft[cvssInfo]) {
	if l.next() != '{' {
		l.skip()
		return
	}
	var v cvssInfo
	ok := true
	fields(l, cvssInfoKeys, []json.Unmarshaler{nil}, func(int) {
		if c := l.next(); c == '{' || c == 'n' {
			fields(l, cvssScoreKeys, []json.Unmarshaler{&v.V3.BaseScore}, nil)
			return
		}
		ok = false
		l.skip()
	})
	if ok {
		s.V = v
	}
}

func (r *runReader) readResultsFast(l *lexer) {
	r.early = nil
	null := l.array(func() {
		var res sarifResult
		p := &res.Properties
		props := func(int) {
			// A null leaves the bag empty, as in encoding/json.
			fields(l, resultPropKeys, []json.Unmarshaler{&p.QID, &p.Severity, nil}, func(int) { p.VulnerableSoftware = readSoftwareFast(l) })
		}
		if fields(l, resultKeys, []json.Unmarshaler{&res.RuleID, &res.RuleIndex, nil}, props) {
			slow()
		}
		if r.ruleByID == nil {
			r.early = append(r.early, res)
		} else {
			r.count(res)
		}
	})
	r.hasResults = !null
}

// readSoftwareFast reads the vulnerable software list as encoding/json
// reads a []softwareEntry: a null is a nil list, a null entry an empty one.
func readSoftwareFast(l *lexer) []softwareEntry {
	list := []softwareEntry{}
	if l.array(func() {
		list = append(list, softwareEntry{})
		sw := &list[len(list)-1]
		fields(l, softwareKeys, []json.Unmarshaler{&sw.Name, &sw.InstalledVersion, &sw.FixedVersion, &sw.LayerSHA, &sw.Path}, nil)
	}) {
		return nil
	}
	return list
}
