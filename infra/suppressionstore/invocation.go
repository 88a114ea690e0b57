package suppressionstore

import (
	"context"
	"sync"
	"time"

	"ecrscanner/domain"
)

// PerInvocation reads the rules once per Lambda invocation: every message
// of a batch is handled under the invocation's context, whose deadline is
// the same for all of them and differs from the next invocation's. A read
// that fails is not kept, so the next message tries again. A context with
// no deadline (tests, tools) reads every time. Safe for concurrent use.
type PerInvocation struct {
	src      domain.SuppressionSource
	mu       sync.Mutex
	deadline time.Time
	rules    domain.Suppressions
	etag     string
}

// NewPerInvocation caches src per invocation.
func NewPerInvocation(src domain.SuppressionSource) *PerInvocation { return &PerInvocation{src: src} }

// Load returns the rules read for this invocation, reading them first if
// need be.
func (p *PerInvocation) Load(ctx context.Context) (domain.Suppressions, string, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		return p.src.Load(ctx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if dl.Equal(p.deadline) {
		return p.rules, p.etag, nil
	}
	rules, etag, err := p.src.Load(ctx)
	if err != nil {
		return rules, etag, err
	}
	p.deadline, p.rules, p.etag = dl, rules, etag
	return rules, etag, nil
}
