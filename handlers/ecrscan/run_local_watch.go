package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/local"
)

// effects records when each effect was first seen.
type effects struct {
	want   map[string]bool
	seenAt map[string]time.Duration
}

func (e effects) complete() bool { return len(e.missing()) == 0 }

func (e effects) missing() string {
	var m []string
	for k := range e.want {
		if _, ok := e.seenAt[k]; !ok {
			m = append(m, k)
		}
	}
	sort.Strings(m)
	return strings.Join(m, ", ")
}

func (r *localRun) watch(ctx context.Context, cfg aws.Config, p *local.Pipeline, reg *local.Registry, ref domain.ImageRef, timeout time.Duration, customEvent bool) effects {
	obs := p.Observer(cfg)
	e := effects{want: map[string]bool{"record": true, "archive": true, "tags": true, "referrer": !customEvent, "alert": true}, seenAt: map[string]time.Duration{}}
	if p.Functions["SecurityHubFunction"] != nil {
		e.want["findings"] = true
	}
	if customEvent {
		delete(e.want, "referrer")
		r.say("note: the referrer is not awaited for a custom event (its image is not in the local registry)")
	}
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var status domain.Status
	for !e.complete() {
		select {
		case <-ctx.Done():
			return e
		case <-deadline:
			return e
		case <-tick.C:
		}
		mark := func(k string) { e.seenAt[k] = time.Since(r.pushed) }
		if rec, ok, _ := obs.Record(ctx, ref.Digest); ok && rec.Status != status && rec.Status != domain.StatusScanning {
			status = rec.Status
			mark("record")
			r.say("record   %s in the scans table: %s", rec.Status, describeRecord(rec))
			if rec.Status == domain.StatusFailed {
				// A failed scan archives and tags nothing; only its alert is due.
				delete(e.want, "archive")
				delete(e.want, "tags")
				delete(e.want, "referrer")
				delete(e.want, "findings")
			}
		}
		if _, ok := e.seenAt["archive"]; !ok && e.want["archive"] {
			if bucket, keys, _ := obs.ArchiveObjects(ctx, ref.Repository, ref.Digest); len(keys) > 0 {
				mark("archive")
				r.say("archive  s3://%s/%s", bucket, keys[0])
			}
		}
		if _, ok := e.seenAt["tags"]; !ok && e.want["tags"] {
			if tags, _ := obs.RepositoryTags(ctx, ref); tags["qualys:last-digest"] == ref.Digest.String() {
				mark("tags")
				r.say("tags     %s: %s", ref.Repository, formatTags(tags))
			}
		}
		if _, ok := e.seenAt["referrer"]; !ok && e.want["referrer"] {
			if refs, err := reg.Referrers(ref); err == nil && len(refs) > 0 {
				mark("referrer")
				r.say("referrer %s attached to %s@sha256:%s (OCI 1.1 subject)", refs[0].Digest, ref.Repository, ref.Digest.Short())
			}
		}
		if _, ok := e.seenAt["findings"]; !ok && e.want["findings"] {
			if n, _ := obs.SecurityHubFindings(ctx, ref); n > 0 {
				mark("findings")
				r.say("findings %d Security Hub findings (ASFF) for %s", n, ref.Display())
			}
		}
		if alerts, _ := obs.Alerts(ctx); len(alerts) > 0 {
			mark("alert")
			for _, a := range alerts {
				r.say("alert    SNS %q severity=%s kind=%s\n%s", a.Subject, a.Attributes["severity"], a.Attributes["kind"], indent(alertShown(a.Message)))
			}
		}
	}
	return e
}

func (r *localRun) summary(e effects) {
	var last time.Duration
	for _, d := range e.seenAt {
		last = max(last, d)
	}
	fmt.Fprintf(r.out, "\npush → all effects: %.2fs\n", last.Seconds())
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.timings))
	for n := range r.timings {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ts := r.timings[n]
		var total time.Duration
		for _, t := range ts {
			total += t
		}
		fmt.Fprintf(r.out, "  %-20s %d invocation(s), %.0f ms each on average\n", n, len(ts), float64(total.Milliseconds())/float64(len(ts)))
	}
}

func (r *localRun) invoked(function string, received, failed int, took time.Duration, err error) {
	r.mu.Lock()
	if r.timings == nil {
		r.timings = map[string][]time.Duration{}
	}
	r.timings[function] = append(r.timings[function], took)
	r.mu.Unlock()
	switch {
	case err != nil:
		r.say("invoke   %s: %d message(s) in %d ms: %v", function, received, took.Milliseconds(), err)
	case failed > 0:
		r.say("invoke   %s: %d message(s) in %d ms, %d failed (retried by SQS)", function, received, took.Milliseconds(), failed)
	default:
		r.say("invoke   %s: %d message(s) in %d ms", function, received, took.Milliseconds())
	}
}

// functionLog shows a function's log line: all of them with -v, otherwise
// warnings and errors only.
func (r *localRun) functionLog(function, line string) {
	var rec map[string]any
	if json.Unmarshal([]byte(line), &rec) != nil {
		if r.verbose {
			r.say("  %s | %s", function, line)
		}
		return
	}
	level, _ := rec["level"].(string)
	if !r.verbose && level != "WARN" && level != "ERROR" {
		return
	}
	msg, _ := rec["msg"].(string)
	var kv []string
	for k, v := range rec {
		switch k {
		case "time", "level", "msg", "requestId", "functionArn", "xrayTraceId":
			continue
		}
		kv = append(kv, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(kv)
	r.say("  %s | %s %s %s", function, level, msg, strings.Join(kv, " "))
}

func describeRecord(rec domain.ScanRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scan %s, event %s", short(rec.ScanID), rec.Event.Type)
	if s := rec.Summary; s != nil {
		v := s.Vulnerabilities
		fmt.Fprintf(&b, ", %d vulnerabilities (critical %d, high %d, medium %d, low %d), %d secrets", v.Total(), v.Critical, v.High, v.Medium, v.Low, s.Secrets)
	}
	if rec.Failure != nil {
		fmt.Fprintf(&b, ", failure %s", rec.Failure.Error())
	}
	if rec.Report != nil {
		fmt.Fprintf(&b, ", report s3://%s/%s", rec.Report.Bucket, rec.Report.Key)
	}
	return b.String()
}

func formatTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		if strings.HasPrefix(k, "qualys:") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + tags[k]
	}
	return strings.Join(parts, " ")
}

func indent(s string) string {
	return "           | " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n           | ")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
