package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/events"
	"ecrscanner/infra/ops/eventpattern"
	"ecrscanner/infra/ops/local"
)

// What the pipeline should do with a sample event, judged the way AWS would
// treat it: EventBridge refuses an entry without source, detail-type and a
// JSON object detail; it sets the account and region of what it accepts to
// the sender's; the template's rules decide whether the scan queue gets it;
// and the scan function scans, skips, or dead-letters it with a reason.
const (
	wantRefused      = "refused by the bus"
	wantNotRouted    = "not routed to the scan queue"
	wantSkipped      = "skipped by the scan function"
	wantDeadLettered = "dead-lettered in ScanDLQ"
	wantScanned      = "scanned"
)

// sample is one event file and what should become of it.
type sample struct {
	name string
	body []byte
	// delivered is the event as EventBridge would deliver it (nil when the
	// bus refuses it).
	delivered []byte
	want      string
	why       string
}

// expectSample reads what should become of body, sent to a stack whose
// default-bus rules to a queue are rules (scanRules).
func expectSample(rules []*eventpattern.Pattern, name string, body []byte) (sample, error) {
	s := sample{name: name, body: body}
	s.delivered = deliveredAs(body, time.Now())
	if s.delivered == nil {
		s.want, s.why = wantRefused, "not sent: EventBridge PutEvents refuses an entry without source, detail-type and a JSON object as detail"
		return s, nil
	}
	routed, err := anyMatch(rules, s.delivered)
	if err != nil {
		return s, err
	}
	if !routed {
		s.want, s.why = wantNotRouted, "no rule on the default bus matches it"
		return s, nil
	}
	_, derr := events.DecodePush(s.delivered)
	var skip *events.SkipError
	switch {
	case errors.As(derr, &skip):
		s.want, s.why = wantSkipped, derr.Error()
	case derr != nil:
		s.want, s.why = wantDeadLettered, derr.Error()
	default:
		s.want = wantScanned
	}
	return s, nil
}

// deliveredAs is body as a rule target receives it from the bus: source,
// detail-type, resources and detail as put, with the account and region of
// the sender (the local stack's) and EventBridge's own ID and time. Nil when
// PutEvents would refuse the entry.
func deliveredAs(body []byte, now time.Time) []byte {
	var env struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &env) != nil || env.Source == "" || env.DetailType == "" || !isJSONObject(env.Detail) {
		return nil
	}
	if env.Resources == nil {
		env.Resources = []string{}
	}
	out, err := json.Marshal(map[string]any{
		"version": "0", "id": "00000000-0000-0000-0000-000000000000", "detail-type": env.DetailType, "source": env.Source,
		"account": local.Account, "time": now.UTC().Format(time.RFC3339), "region": local.Region,
		"resources": env.Resources, "detail": env.Detail,
	})
	if err != nil {
		return nil
	}
	return out
}

func isJSONObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

// scanRules compiles the patterns of the deployed stack's rules that send
// default-bus events to a queue.
func scanRules(st *localStack) ([]*eventpattern.Pattern, error) {
	d := st.pipeline.Deployment
	var out []*eventpattern.Pattern
	for _, rule := range d.Template.BusRules("default") {
		if rule.Queue == "" || !d.Created(rule.LogicalID) {
			continue
		}
		p, err := eventpattern.Compile(rule.Pattern)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", rule.LogicalID, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// anyMatch reports whether one of rules matches the delivered event.
func anyMatch(rules []*eventpattern.Pattern, delivered []byte) (bool, error) {
	for _, p := range rules {
		if ok, err := p.Match(delivered); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// runSamples sends every *.json event in dir through the local pipeline,
// one stack per scan trigger the samples need, waits until every queue is
// quiet, and checks each sample ended as it should and that every message
// in a dead-letter queue is one that should be there.
func (r *localRun) runSamples(ctx context.Context, dir string, timeout time.Duration) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no *.json events in %s", dir)
	}
	sort.Strings(files)
	groups := map[bool][]string{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		ct := isCloudTrail(body)
		groups[ct] = append(groups[ct], f)
	}
	var problems []string
	for _, cloudtrail := range []bool{false, true} {
		if len(groups[cloudtrail]) == 0 {
			continue
		}
		bad, err := r.runSampleGroup(ctx, groups[cloudtrail], cloudtrail, timeout)
		if err != nil {
			return err
		}
		problems = append(problems, bad...)
	}
	fmt.Fprintf(r.out, "\n%d sample(s), %d as expected\n", len(files), len(files)-len(problems))
	if len(problems) > 0 {
		return fmt.Errorf("%d sample(s) did not end as expected:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

func isCloudTrail(body []byte) bool {
	return bytes.Contains(body, []byte(`"AWS API Call via CloudTrail"`))
}

// runSampleGroup runs files through one stack deployed with the trigger
// they need, and returns what did not end as expected.
func (r *localRun) runSampleGroup(ctx context.Context, files []string, cloudtrail bool, timeout time.Duration) ([]string, error) {
	setup := r.baseSetup()
	trigger := "ECR Image Action events"
	if cloudtrail {
		setup.params["ScanTrigger"] = "cloudtrail"
		trigger = "CloudTrail PutImage events (ScanTrigger=cloudtrail)"
	}
	fmt.Fprintf(r.out, "\n== %d sample(s) to a stack triggered by %s\n", len(files), trigger)
	done, err := r.chooseQScanner(ctx, setup)
	if err != nil {
		return nil, err
	}
	defer done()
	st, err := r.startStack(ctx, setup)
	if err != nil {
		return nil, err
	}
	defer st.stop()
	rules, err := scanRules(st)
	if err != nil {
		return nil, err
	}
	samples := make([]sample, 0, len(files))
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		s, err := expectSample(rules, filepath.Base(f), body)
		if err != nil {
			return nil, err
		}
		if err := r.sendSample(ctx, st, s); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		samples = append(samples, s)
	}
	r.pushed = time.Now()
	if err := r.awaitQuiet(ctx, st, timeout); err != nil {
		return nil, err
	}
	return r.checkSamples(ctx, st, samples)
}

// sendSample puts s on the default bus, first recording the image it names
// in moto's ECR when it should be scanned.
func (r *localRun) sendSample(ctx context.Context, st *localStack, s sample) error {
	if s.want == wantRefused {
		return nil
	}
	if s.want == wantScanned {
		req, err := events.DecodePush(s.delivered)
		if err != nil {
			return err
		}
		if err := local.RecordImage(ctx, ecr.NewFromConfig(st.cfg), req.Ref); err != nil {
			return err
		}
	}
	return putEvent(ctx, st.cfg, s.body)
}

// quietFor is how long every queue must stay empty for the pipeline to
// count as done.
const quietFor = 5 * time.Second

// awaitQuiet waits until no queue a function reads holds a message, visible
// or in flight, for quietFor.
func (r *localRun) awaitQuiet(ctx context.Context, st *localStack, timeout time.Duration) error {
	obs := st.pipeline.Observer(st.cfg)
	deadline := time.Now().Add(timeout)
	var quietSince time.Time
	for time.Now().Before(deadline) {
		busy := false
		for _, m := range st.pipeline.Deployment.Template.EventSourceMappings() {
			if n, err := obs.QueueLoad(ctx, m.Queue); err != nil || n > 0 {
				busy = true
				break
			}
		}
		switch {
		case busy:
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = time.Now()
		case time.Since(quietSince) >= quietFor:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the queues were not quiet within %v", timeout)
}
