package qscanner

import (
	"context"
	"slices"
)

// runReader reads one SARIF run and counts its results into out, one
// Vulnerability per QID across all runs. QScanner writes the driver, with its
// rules, before the results, so each result is counted as it is decoded and
// none is kept; results that come before the rules they name wait for the end
// of the run.
type runReader struct {
	s     *jsonStream
	out   *sarifReport
	byQID map[string]int // the index in out.vulnerabilities of each QID seen

	version  text
	rules    []sarifRule
	ruleByID map[string]*sarifRule // set once the driver has been read
	early    []sarifResult         // results read before the driver
	props    soft[runProperties]
	// hasResults tells a run without "results" (the tool produced no
	// findings list: unknown) from one with an empty list (nothing found).
	hasResults bool
}

// read reads the run: the driver's version and rules, the results and the
// run's properties. Other keys, and a second "tool", are skipped.
func (r *runReader) read() error {
	_, err := r.s.object("runs", func(key string) error {
		switch {
		case is(key, "tool") && r.ruleByID == nil:
			return r.readTool()
		case is(key, "results"):
			return r.readResults()
		case is(key, "properties"):
			return r.s.decode(&r.props)
		}
		return r.s.skip()
	})
	if err != nil {
		return err
	}
	return r.finish(r.s.ctx)
}

// finish ends a run once its keys are read: the results read before the
// rules are counted, and the run's properties and the tool's version fill
// what earlier runs left empty.
func (r *runReader) finish(ctx context.Context) error {
	if r.ruleByID == nil {
		r.indexRules()
	}
	// Room for the waiting results at once, rather than by doubling: the
	// copies left behind would raise the parse's peak heap.
	r.out.vulnerabilities = slices.Grow(r.out.vulnerabilities, len(r.early))
	for i, res := range r.early {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		r.count(res)
	}
	out, props := r.out, r.props.V
	if out.digest == "" {
		out.digest = props.ImageDigest.String()
	}
	if out.os == "" {
		out.os = props.OS.String()
	}
	if out.toolVersion == "" {
		out.toolVersion = r.version.String()
	}
	return nil
}

func (r *runReader) readTool() error {
	driver := func(key string) (err error) {
		switch {
		case is(key, "version"):
			return r.s.decode(&r.version)
		case is(key, "rules"):
			r.rules, err = list[sarifRule](r.s, "rules")
			return err
		}
		return r.s.skip()
	}
	_, err := r.s.object("tool", func(key string) error {
		if !is(key, "driver") {
			return r.s.skip()
		}
		_, err := r.s.object("driver", driver)
		return err
	})
	if err == nil {
		r.indexRules()
	}
	return err
}

func (r *runReader) indexRules() {
	byID, conflicts := indexRules(r.rules)
	r.ruleByID = byID
	r.out.conflicts = append(r.out.conflicts, conflicts...)
}

// readResults counts each result as it is decoded once the rules are known,
// and keeps it for the end of the run before.
func (r *runReader) readResults() error {
	r.early = nil
	null, err := r.s.array("results", func() error {
		var res sarifResult
		if err := r.s.decode(&res); err != nil {
			return err
		}
		if r.ruleByID == nil {
			r.early = append(r.early, res)
		} else {
			r.count(res)
		}
		return nil
	})
	r.hasResults = !null
	return err
}

// count adds one result: a new Vulnerability, or more packages and perhaps a
// worse severity for a QID already seen.
func (r *runReader) count(res sarifResult) {
	out := r.out
	v := vulnerability(res, lookupRule(res, r.rules, r.ruleByID))
	if v.QID == "" {
		out.vulnerabilities = append(out.vulnerabilities, v)
		return
	}
	if k, seen := r.byQID[v.QID]; seen {
		merge(&out.vulnerabilities[k], v)
		return
	}
	r.byQID[v.QID] = len(out.vulnerabilities)
	out.vulnerabilities = append(out.vulnerabilities, v)
}
