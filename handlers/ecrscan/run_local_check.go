package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/local"
)

// checkSamples compares what became of each sample with what should have,
// lists every dead letter with its reason, and returns the differences: a
// sample that did not end as expected, or a dead letter no sample explains.
func (r *localRun) checkSamples(ctx context.Context, st *localStack, samples []sample) ([]string, error) {
	obs := st.pipeline.Observer(st.cfg)
	letters, err := obs.DeadLetters(ctx)
	if err != nil {
		return nil, err
	}
	explained := make([]bool, len(letters))
	var problems []string
	for _, s := range samples {
		got, err := r.outcome(ctx, obs, s, letters, explained)
		if err != nil {
			return nil, err
		}
		mark := "ok  "
		if got != s.want {
			mark = "FAIL"
			problems = append(problems, fmt.Sprintf("%s: %s, want %s", s.name, got, s.want))
		}
		line := fmt.Sprintf("  %s %-48s %s", mark, s.name, got)
		if s.why != "" {
			line += ": " + s.why
		}
		fmt.Fprintln(r.out, line)
	}
	fmt.Fprintf(r.out, "dead letters: %d\n", len(letters))
	for i, l := range letters {
		note := "expected"
		if !explained[i] {
			note = "UNEXPECTED"
			problems = append(problems, fmt.Sprintf("%s holds message %s: %s", l.Queue, l.MessageID, l.Reason))
		}
		fmt.Fprintf(r.out, "  %-10s %-24s %s: %s\n", note, l.Queue, l.MessageID, l.Reason)
	}
	return problems, nil
}

// outcome reads what became of s: scanned if its digest's record completed,
// dead-lettered if ScanDLQ holds it (marked explained when that was the
// expectation), else what it was
// expected to be when nothing contradicts that.
func (r *localRun) outcome(ctx context.Context, obs *local.Observer, s sample, letters []local.DeadLetter, explained []bool) (string, error) {
	for i, l := range letters {
		if l.Queue == "ScanDLQ" && sameDetail(l.Body, s.delivered) {
			// Only a sample meant to be dead-lettered explains its letter.
			explained[i] = explained[i] || s.want == wantDeadLettered
			return wantDeadLettered, nil
		}
	}
	switch s.want {
	case wantScanned:
		req, err := events.DecodePush(s.delivered)
		if err != nil {
			return "", err
		}
		rec, ok, err := obs.Record(ctx, req.Ref.Digest)
		switch {
		case err != nil:
			return "", err
		case !ok:
			return "no scan record", nil
		case rec.Status != domain.StatusCompleted:
			return "scan record " + string(rec.Status), nil
		}
		return wantScanned, nil
	case wantDeadLettered:
		return "not in ScanDLQ", nil
	}
	// Refused, not routed or skipped: nothing to see, which is the point;
	// that it is in no dead-letter queue was checked above.
	return s.want, nil
}

// sameDetail reports whether a dead-lettered message body (an EventBridge
// event) carries the detail of event.
func sameDetail(body string, event []byte) bool {
	var a, b struct {
		Detail any `json:"detail"`
	}
	if json.Unmarshal([]byte(body), &a) != nil || json.Unmarshal(event, &b) != nil {
		return false
	}
	return a.Detail != nil && reflect.DeepEqual(a.Detail, b.Detail)
}
