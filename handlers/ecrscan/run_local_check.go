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
	scanned := map[domain.Digest]bool{}
	for _, s := range samples {
		if s.want == wantScanned {
			if req, err := events.DecodePush(s.delivered); err == nil {
				scanned[req.Ref.Digest] = true
			}
		}
	}
	var problems []string
	for _, s := range samples {
		got, err := r.outcome(ctx, obs, s, letters, explained, scanned)
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
func (r *localRun) outcome(ctx context.Context, obs *local.Observer, s sample, letters []local.DeadLetter, explained []bool, scanned map[domain.Digest]bool) (string, error) {
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
	// Refused, not routed or skipped: in no dead-letter queue (checked
	// above), and no scan record for the digest it names, unless another
	// sample should have scanned that digest.
	if d, ok := namedDigest(s.body); ok && !scanned[d] {
		if _, found, err := obs.Record(ctx, d); err != nil {
			return "", err
		} else if found {
			return "scanned", nil
		}
	}
	return s.want, nil
}

// namedDigest is the image digest an ECR or CloudTrail push event names,
// when it names a valid one.
func namedDigest(body []byte) (domain.Digest, bool) {
	var ev struct {
		Detail struct {
			ImageDigest string `json:"image-digest"`
			Response    struct {
				Image struct {
					ImageID struct {
						ImageDigest string `json:"imageDigest"`
					} `json:"imageId"`
				} `json:"image"`
			} `json:"responseElements"`
		} `json:"detail"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return "", false
	}
	for _, s := range []string{ev.Detail.ImageDigest, ev.Detail.Response.Image.ImageID.ImageDigest} {
		if d, err := domain.ParseDigest(s); err == nil {
			return d, true
		}
	}
	return "", false
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
