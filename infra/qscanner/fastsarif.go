package qscanner

import (
	"context"
	"encoding/json"
	"errors"
	"io"

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
	null := l.object(runKeys, func(i int) {
		switch i {
		case 0:
			r.readToolFast(l)
		case 1:
			r.readResultsFast(l)
		case 2:
			leaf(l, &r.props)
		default:
			l.skip()
		}
	})
	if null || !r.hasResults || r.finish(l.ctx) != nil {
		slow()
	}
}

// leaf reads a value with its UnmarshalJSON method, as encoding/json does.
func leaf(l *lexer, u json.Unmarshaler) {
	if err := u.UnmarshalJSON(l.raw()); err != nil {
		slow()
	}
}

// skipOther skips the value of a key the reader does not know.
func skipOther(l *lexer, i int) bool {
	if i < 0 {
		l.skip()
		return true
	}
	return false
}

func (r *runReader) readToolFast(l *lexer) {
	driver := func(i int) {
		switch i {
		case 0:
			leaf(l, &r.version)
		case 1:
			r.rules = readRulesFast(l)
		default:
			l.skip()
		}
	}
	null := l.object(toolKeys, func(i int) {
		if !skipOther(l, i) && l.object(driverKeys, driver) {
			slow()
		}
	})
	if null {
		slow()
	}
	r.indexRules()
}

// readRulesFast is list[sarifRule].
func readRulesFast(l *lexer) []sarifRule {
	rules := []sarifRule{}
	if l.array(func() {
		rules = append(rules, sarifRule{})
		readRuleFast(l, &rules[len(rules)-1])
	}) {
		return nil
	}
	return rules
}

func readRuleFast(l *lexer, ru *sarifRule) {
	null := l.object(ruleKeys, func(i int) {
		switch i {
		case 0:
			leaf(l, &ru.ID)
		case 1:
			leaf(l, &ru.Name)
		case 2:
			leaf(l, &ru.ShortDescription)
		case 3:
			readRulePropsFast(l, &ru.Properties)
		default:
			l.skip()
		}
	})
	if null {
		slow()
	}
}

// readRulePropsFast reads a rule's property bag; a null leaves it empty, as
// in encoding/json.
func readRulePropsFast(l *lexer, p *ruleProperties) {
	l.object(rulePropKeys, func(i int) {
		switch i {
		case 0:
			leaf(l, &p.QID)
		case 1:
			leaf(l, &p.Title)
		case 2:
			leaf(l, &p.Severity)
		case 3:
			leaf(l, &p.CustomerSeverity)
		case 4:
			leaf(l, &p.CVEIDs)
		case 5:
			leaf(l, &p.Category)
		case 6:
			readCVSSFast(l, &p.CVSSInfo)
		default:
			l.skip()
		}
	})
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
	l.object(cvssInfoKeys, func(i int) {
		switch {
		case skipOther(l, i):
		case l.next() == '{' || l.next() == 'n':
			l.object(cvssScoreKeys, func(i int) {
				if !skipOther(l, i) {
					leaf(l, &v.V3.BaseScore)
				}
			})
		default:
			ok = false
			l.skip()
		}
	})
	if ok {
		s.V = v
	}
}

func (r *runReader) readResultsFast(l *lexer) {
	r.early = nil
	null := l.array(func() {
		var res sarifResult
		readResultFast(l, &res)
		if r.ruleByID == nil {
			r.early = append(r.early, res)
		} else {
			r.count(res)
		}
	})
	r.hasResults = !null
}

func readResultFast(l *lexer, res *sarifResult) {
	p := &res.Properties
	props := func(i int) {
		switch i {
		case 0:
			leaf(l, &p.QID)
		case 1:
			leaf(l, &p.Severity)
		case 2:
			p.VulnerableSoftware = readSoftwareFast(l)
		default:
			l.skip()
		}
	}
	null := l.object(resultKeys, func(i int) {
		switch i {
		case 0:
			leaf(l, &res.RuleID)
		case 1:
			leaf(l, &res.RuleIndex)
		case 2:
			l.object(resultPropKeys, props) // a null leaves it empty
		default:
			l.skip()
		}
	})
	if null {
		slow()
	}
}

// readSoftwareFast reads the vulnerable software list as encoding/json
// reads a []softwareEntry: a null is a nil list, a null entry an empty one.
func readSoftwareFast(l *lexer) []softwareEntry {
	list := []softwareEntry{}
	if l.array(func() {
		list = append(list, softwareEntry{})
		sw := &list[len(list)-1]
		l.object(softwareKeys, func(i int) {
			switch i {
			case 0:
				leaf(l, &sw.Name)
			case 1:
				leaf(l, &sw.InstalledVersion)
			case 2:
				leaf(l, &sw.FixedVersion)
			case 3:
				leaf(l, &sw.LayerSHA)
			case 4:
				leaf(l, &sw.Path)
			default:
				l.skip()
			}
		})
	}) {
		return nil
	}
	return list
}
