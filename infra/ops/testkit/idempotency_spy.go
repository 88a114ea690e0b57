package testkit

import (
	"context"
	"time"
)

// What MemoryIdempotencyStore.Marker reports of a key.
const (
	MarkerInProgress = "in-progress"
	MarkerDone       = "done"
)

// spy is what a MemoryIdempotencyStore handle remembers of its calls, and
// the failures a test asked it for.
type spy struct {
	calls              []string
	leases, retentions []time.Duration
	fail               map[string]error // by operation: start, finish, abandon
}

// record logs a call of op and returns the failure set for op, if any, or
// ctx's error when it has ended: a real store's request fails then too.
func (s *MemoryIdempotencyStore) record(ctx context.Context, op, key string, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spy.calls = append(s.spy.calls, op+" "+key)
	switch op {
	case "start":
		s.spy.leases = append(s.spy.leases, d)
	case "finish":
		s.spy.retentions = append(s.spy.retentions, d)
	}
	if err := s.spy.fail[op]; err != nil {
		return err
	}
	return ctx.Err()
}

// FailStart makes every later Start of this handle return err itself and
// change nothing, as when the table cannot be reached.
func (s *MemoryIdempotencyStore) FailStart(err error) { s.failOn("start", err) }

// FailFinish is FailStart for Finish.
func (s *MemoryIdempotencyStore) FailFinish(err error) { s.failOn("finish", err) }

// FailAbandon is FailStart for Abandon.
func (s *MemoryIdempotencyStore) FailAbandon(err error) { s.failOn("abandon", err) }

func (s *MemoryIdempotencyStore) failOn(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spy.fail == nil {
		s.spy.fail = map[string]error{}
	}
	s.spy.fail[op] = err
}

// Calls lists this handle's calls in order, as "start KEY", "finish KEY" or
// "abandon KEY", failed ones included.
func (s *MemoryIdempotencyStore) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.spy.calls...)
}

// Leases lists the lease of each of this handle's Start calls, in order.
func (s *MemoryIdempotencyStore) Leases() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.spy.leases...)
}

// Retentions lists the retention of each of this handle's Finish calls, in
// order.
func (s *MemoryIdempotencyStore) Retentions() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.spy.retentions...)
}

// Marker is the state of key's marker now, whoever wrote it: MarkerDone,
// MarkerInProgress while its lease runs, or "" when there is none that
// blocks a Start.
func (s *MemoryIdempotencyStore) Marker(key string) string {
	return s.Markers()[key]
}

// Markers maps every key whose marker blocks a Start now to its state.
func (s *MemoryIdempotencyStore) Markers() map[string]string {
	now := s.now()
	s.markers.mu.Lock()
	defer s.markers.mu.Unlock()
	out := map[string]string{}
	for k, m := range s.markers.markers {
		if st := m.state(now); st != "" {
			out[k] = st
		}
	}
	return out
}
