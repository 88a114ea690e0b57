package testkit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"ecrscanner/domain"
)

// MemoryIdempotencyStore is the in-memory domain.IdempotencyStore, with the
// rules of the DynamoDB one: a live in-progress marker blocks Start until
// its lease has passed, a done marker until its retention has, and Abandon
// drops only the marker this handle wrote. It passes TestIdempotencyStore.
// A handle also remembers its calls and fails on demand, for tests of what
// uses the port (idempotency_spy.go). Safe for concurrent use.
type MemoryIdempotencyStore struct {
	markers *markerTable
	now     func() time.Time

	mu   sync.Mutex
	held map[string]string // key → holder token of a marker this handle wrote
	spy  spy
}

var _ domain.IdempotencyStore = (*MemoryIdempotencyStore)(nil)

// markerTable is the storage handles share, as processes share a table.
type markerTable struct {
	mu      sync.Mutex
	markers map[string]marker
}

type marker struct {
	done       bool
	holder     string
	leaseUntil time.Time // while in progress
	expiresAt  time.Time
}

// state is what m means at now: MarkerDone, MarkerInProgress, or "" once it
// no longer blocks a Start (expired, or in progress past its lease). The
// zero marker, of a key never written, is "".
func (m marker) state(now time.Time) string {
	switch {
	case now.After(m.expiresAt):
		return ""
	case m.done:
		return MarkerDone
	case !now.After(m.leaseUntil):
		return MarkerInProgress
	}
	return ""
}

// NewMemoryIdempotencyStore returns an empty store that reads the time from
// now (time.Now when nil).
func NewMemoryIdempotencyStore(now func() time.Time) *MemoryIdempotencyStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryIdempotencyStore{markers: &markerTable{markers: map[string]marker{}}, now: now, held: map[string]string{}}
}

// Peer opens another handle on the same markers, as a second process would:
// it sees every marker but holds none of this handle's.
func (s *MemoryIdempotencyStore) Peer() *MemoryIdempotencyStore {
	return &MemoryIdempotencyStore{markers: s.markers, now: s.now, held: map[string]string{}}
}

// Start implements domain.IdempotencyStore.
func (s *MemoryIdempotencyStore) Start(ctx context.Context, key string, lease time.Duration) error {
	if err := s.record(ctx, "start", key, lease); err != nil {
		return err
	}
	if lease <= 0 {
		return fmt.Errorf("start %s: lease %v must be positive", key, lease)
	}
	now := s.now()
	s.markers.mu.Lock()
	defer s.markers.mu.Unlock()
	switch s.markers.markers[key].state(now) {
	case MarkerDone:
		return fmt.Errorf("start %s: %w", key, domain.ErrAlreadyDone)
	case MarkerInProgress:
		return fmt.Errorf("start %s: %w", key, domain.ErrInProgress)
	}
	holder := domain.NewID()
	s.markers.markers[key] = marker{holder: holder, leaseUntil: now.Add(lease), expiresAt: now.Add(lease + time.Second)}
	s.mu.Lock()
	s.held[key] = holder
	s.mu.Unlock()
	return nil
}

// Finish implements domain.IdempotencyStore: the effect has happened,
// whoever held the lease.
func (s *MemoryIdempotencyStore) Finish(ctx context.Context, key string, retention time.Duration) error {
	if err := s.record(ctx, "finish", key, retention); err != nil {
		return err
	}
	s.release(key)
	s.markers.mu.Lock()
	defer s.markers.mu.Unlock()
	s.markers.markers[key] = marker{done: true, expiresAt: s.now().Add(retention)}
	return nil
}

// Abandon implements domain.IdempotencyStore.
func (s *MemoryIdempotencyStore) Abandon(ctx context.Context, key string) error {
	if err := s.record(ctx, "abandon", key, 0); err != nil {
		return err
	}
	holder, ok := s.release(key)
	if !ok {
		return nil
	}
	s.markers.mu.Lock()
	defer s.markers.mu.Unlock()
	if m := s.markers.markers[key]; !m.done && m.holder == holder {
		delete(s.markers.markers, key)
	}
	return nil
}

func (s *MemoryIdempotencyStore) release(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.held[key]
	delete(s.held, key)
	return h, ok
}
