package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/chaos"
	"ecrscanner/infra/ops/local"
)

// pushEffects are what one push must lead to before it counts as done:
// the record, the archive, the repository's scan labels, the referrer on the
// image, the alert and, when the stack has its function, Security Hub
// findings — every effect make run waits for.
var pushEffects = []string{"record", "archive", "tags", "referrer", "alert", "findings"}

// latencyPushes sends opts.pushes pushes of new images one at a time, each
// to a repository of its own, and measures each from its PutEvents to the
// last of its effects before sending the next: the latency of one push on an
// idle pipeline, without queueing behind others (the burst measures load).
func (b *bench) latencyPushes(ctx context.Context, st *localStack) ([]time.Duration, error) {
	n := b.opts.pushes
	if n == 0 {
		return nil, nil
	}
	repos := make([]string, n)
	for i := range repos {
		repos[i] = fmt.Sprintf("bench/latency-%03d", i)
	}
	b.progress("pipeline: publishing %d images for the latency pushes", n)
	refs, err := st.publish(ctx, 1_000_000, n, repos)
	if err != nil {
		return nil, err
	}
	b.progress("pipeline: %d pushes, one at a time; waiting for every effect of each", n)
	w := newEffectWatch(st)
	for i, ref := range refs {
		sent := time.Now()
		if err := putPushes(ctx, st.cfg, []domain.ImageRef{ref}); err != nil {
			return nil, err
		}
		w.add(ref, sent)
		if err := w.run(ctx, i+1, 2*time.Minute); err != nil {
			return nil, err
		}
		if i%5 == 4 {
			b.progress("pipeline: %d of %d pushes complete, last in %.1f s", i+1, n, w.latencies()[i].Seconds())
		}
	}
	return w.latencies(), nil
}

// effectWatch polls the stores for the effects of the pushes it is given.
type effectWatch struct {
	st   *localStack
	obs  *local.Observer
	mu   sync.Mutex
	open []*watched
	took []time.Duration
}

type watched struct {
	ref  domain.ImageRef
	sent time.Time
	seen map[string]bool
}

func newEffectWatch(st *localStack) *effectWatch {
	return &effectWatch{st: st, obs: st.pipeline.Observer(st.cfg)}
}

func (w *effectWatch) add(ref domain.ImageRef, sent time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	if w.st.pipeline.Functions["SecurityHubFunction"] == nil {
		seen["findings"] = true // not deployed: nothing to wait for
	}
	w.open = append(w.open, &watched{ref: ref, sent: sent, seen: seen})
}

func (w *effectWatch) completed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.took)
}

func (w *effectWatch) latencies() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.took...)
}

// run polls until n pushes are complete or bound has passed.
func (w *effectWatch) run(ctx context.Context, n int, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for w.completed() < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d pushes had every effect within %v; still missing: %s", w.completed(), n, bound, w.missing())
		}
		time.Sleep(150 * time.Millisecond)
		w.poll(ctx)
	}
	return nil
}

func (w *effectWatch) poll(ctx context.Context) {
	w.mu.Lock()
	open := append([]*watched(nil), w.open...)
	w.mu.Unlock()
	alerts, _ := w.obs.Alerts(ctx)
	var still []*watched
	var done []time.Duration
	for _, p := range open {
		for _, a := range alerts {
			if strings.Contains(a.Message, p.ref.Repository) || strings.Contains(a.Subject, p.ref.Repository) {
				p.seen["alert"] = true
			}
		}
		w.check(ctx, p)
		if len(p.seen) == len(pushEffects) {
			done = append(done, time.Since(p.sent))
			continue
		}
		still = append(still, p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Pushes added while polling stay open.
	w.open = append(still, w.open[len(open):]...)
	w.took = append(w.took, done...)
}

// check looks for each effect p still lacks.
func (w *effectWatch) check(ctx context.Context, p *watched) {
	ref := p.ref
	if !p.seen["record"] {
		if rec, ok, _ := w.obs.Record(ctx, ref.Digest); ok && rec.Status == domain.StatusCompleted {
			p.seen["record"] = true
		}
	}
	if !p.seen["archive"] {
		if _, keys, _ := w.obs.ArchiveObjects(ctx, ref.Repository, ref.Digest); len(keys) > 0 {
			p.seen["archive"] = true
		}
	}
	if !p.seen["tags"] {
		if tags, _ := w.obs.RepositoryTags(ctx, ref); tags["qualys:last-digest"] == ref.Digest.String() {
			p.seen["tags"] = true
		}
	}
	if !p.seen["referrer"] {
		if refs, err := w.st.reg.Referrers(ref); err == nil && len(refs) > 0 {
			p.seen["referrer"] = true
		}
	}
	if !p.seen["findings"] {
		if n, _ := w.obs.SecurityHubFindings(ctx, ref); n > 0 {
			p.seen["findings"] = true
		}
	}
}

func (w *effectWatch) missing() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	count := map[string]int{}
	for _, p := range w.open {
		for _, e := range pushEffects {
			if !p.seen[e] {
				count[e]++
			}
		}
	}
	var parts []string
	for _, e := range pushEffects {
		if count[e] > 0 {
			parts = append(parts, fmt.Sprintf("%s ×%d", e, count[e]))
		}
	}
	return strings.Join(parts, ", ")
}

// putPushes sends the push events of refs to the default bus, ten an
// entry list, as ECR's events arrive.
func putPushes(ctx context.Context, cfg aws.Config, refs []domain.ImageRef) error {
	client := eventbridge.NewFromConfig(cfg)
	for i := 0; i < len(refs); i += 10 {
		batch := refs[i:min(i+10, len(refs))]
		entries := make([]ebtypes.PutEventsRequestEntry, len(batch))
		for k, ref := range batch {
			entries[k] = ebtypes.PutEventsRequestEntry{
				Source: aws.String("aws.ecr"), DetailType: aws.String("ECR Image Action"), Resources: []string{local.RepositoryARN(ref)},
				Detail: aws.String(fmt.Sprintf(`{"result":"SUCCESS","repository-name":%q,"image-digest":%q,"action-type":"PUSH","image-tag":%q}`, ref.Repository, ref.Digest, ref.Tag)),
			}
		}
		out, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put push events: %w", err)
		}
		if out.FailedEntryCount > 0 {
			return fmt.Errorf("put push events: %d entries refused", out.FailedEntryCount)
		}
	}
	return nil
}

// burst publishes opts.burstDigests images and sends opts.burstEvents push
// events spread over them, shuffled, as fast as PutEvents takes them; it
// waits until every digest's record is complete and the work queues are
// quiet, checks that each digest was scanned exactly once, and replays the
// functions' recorded AWS requests straight to moto for the floor.
func (b *bench) burst(ctx context.Context, st *localStack, res *pipelineResult) error {
	nd, ne := b.opts.burstDigests, b.opts.burstEvents
	res.burstEvents, res.burstDigests = ne, nd
	if nd == 0 {
		return nil
	}
	repos := []string{"bench/burst-0", "bench/burst-1", "bench/burst-2", "bench/burst-3", "bench/burst-4"}
	b.progress("pipeline: publishing %d images for the burst", nd)
	refs, err := st.publish(ctx, 2_000_000, nd, repos)
	if err != nil {
		return err
	}
	if err := b.waitQuiet(ctx, st, 2*time.Minute); err != nil {
		return fmt.Errorf("before the burst: %w", err)
	}
	events := burstEvents(refs, ne)
	st.resetCounts()
	st.proxy.recording.Store(true)
	b.progress("pipeline: burst of %d events over %d digests", ne, nd)
	start := time.Now()
	if err := putPushes(ctx, st.cfg, events); err != nil {
		return err
	}
	// Bounds grow with the burst: moto with IAM enforced answers some 30
	// requests a second, and the size (1,000 events, 200 digests)
	// keeps the downstream queues busy for minutes after the last scan.
	if err := b.waitRecords(ctx, st, refs, max(8*time.Minute, time.Duration(nd)*3*time.Second)); err != nil {
		return err
	}
	if err := b.waitQuiet(ctx, st, max(3*time.Minute, time.Duration(ne)*600*time.Millisecond)); err != nil {
		return err
	}
	// The quiet period itself is not work: it ends when the queues emptied.
	res.burstTook = time.Since(start) - quietFor
	var kept []keptRequest
	res.calls, kept = st.proxy.take()
	res.findings = st.proxy.findings()
	st.mu.Lock()
	res.invocations, res.billed, res.busEvents, res.messages = st.invoked, st.billed, st.busEvents, st.messages
	st.mu.Unlock()
	digests := make([]domain.Digest, len(refs))
	for i, r := range refs {
		digests[i] = r.Digest
	}
	runs, err := countRuns(st.runsFile, digests)
	if err != nil {
		return err
	}
	for _, d := range digests {
		res.scans += runs[d]
	}
	b.progress("pipeline: burst done in %v, %d scans; replaying its %d AWS requests straight to moto for the floor", res.burstTook.Round(time.Millisecond), res.scans, len(kept))
	res.floorTook = st.proxy.replay(ctx, kept, floorWorkers)
	return nil
}

// floorWorkers is how many replayed requests are in flight at once: moto
// serves them in threads, and more than this gains nothing on two cores.
const floorWorkers = 8

// burstEvents spreads n push events over refs: each ref once, the rest
// repeats, shuffled with a fixed seed so every run sends the same order.
func burstEvents(refs []domain.ImageRef, n int) []domain.ImageRef {
	out := make([]domain.ImageRef, 0, n)
	for i := 0; len(out) < n && len(refs) > 0; i++ {
		out = append(out, refs[i%len(refs)])
	}
	rng := rand.New(rand.NewPCG(14, 14))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// countDigests counts the lines of log naming each digest.
func countDigests(log string, digests []domain.Digest) map[domain.Digest]int {
	out := map[domain.Digest]int{}
	for _, line := range strings.Split(log, "\n") {
		for _, d := range digests {
			if strings.Contains(line, d.String()) {
				out[d]++
			}
		}
	}
	return out
}

// waitRecords waits until every ref's scan record is COMPLETED or FAILED.
func (b *bench) waitRecords(ctx context.Context, st *localStack, refs []domain.ImageRef, bound time.Duration) error {
	obs := st.pipeline.Observer(st.cfg)
	deadline := time.Now().Add(bound)
	pending := append([]domain.ImageRef(nil), refs...)
	last := time.Now()
	for len(pending) > 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d burst digests not scanned within %v", len(pending), len(refs), bound)
		}
		var still []domain.ImageRef
		for _, r := range pending {
			if rec, ok, _ := obs.Record(ctx, r.Digest); !ok || (rec.Status != domain.StatusCompleted && rec.Status != domain.StatusFailed) {
				still = append(still, r)
			}
		}
		pending = still
		if time.Since(last) > 15*time.Second {
			b.progress("pipeline: %d of %d burst digests scanned", len(refs)-len(pending), len(refs))
			last = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
	return nil
}

// quietFor is how long every work queue must stay empty to call the
// pipeline idle: longer than a poller's wait between receives.
const quietFor = 3 * time.Second

// waitQuiet waits until every work queue (scan and handlers) has held
// nothing, visible or in flight, for quietFor.
func (b *bench) waitQuiet(ctx context.Context, st *localStack, bound time.Duration) error {
	obs := st.pipeline.Observer(st.cfg)
	queues := chaos.WorkQueues(st.pipeline.Deployment)
	ids := make([]string, 0, len(queues))
	for id := range queues {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	deadline := time.Now().Add(bound)
	var emptySince time.Time
	for time.Now().Before(deadline) && ctx.Err() == nil {
		busy := 0
		for _, id := range ids {
			n, err := obs.QueueLoad(ctx, id)
			if err != nil {
				return err
			}
			busy += n
		}
		switch {
		case busy > 0:
			emptySince = time.Time{}
		case emptySince.IsZero():
			emptySince = time.Now()
		case time.Since(emptySince) >= quietFor:
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the work queues did not go quiet within %v", bound)
}
