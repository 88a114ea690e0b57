package suppressionstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"ecrscanner/domain"
)

type countingLoader struct {
	reads int
	err   error
}

func (c *countingLoader) Load(context.Context) (domain.Suppressions, string, error) {
	c.reads++
	if c.err != nil {
		return domain.Suppressions{}, "", c.err
	}
	return domain.Suppressions{Rules: []domain.Suppression{{ID: "a"}}}, "etag", nil
}

func TestPerInvocationReadsOncePerDeadline(t *testing.T) {
	src := &countingLoader{}
	p := NewPerInvocation(src)
	first, cancel1 := context.WithDeadline(context.Background(), time.Now().Add(time.Minute))
	defer cancel1()
	for range 3 { // three messages of one batch
		if ss, _, err := p.Load(first); err != nil || len(ss.Rules) != 1 {
			t.Fatalf("Load: %+v %v", ss, err)
		}
	}
	if src.reads != 1 {
		t.Fatalf("one invocation read the rules %d times, want 1", src.reads)
	}
	next, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(2*time.Minute))
	defer cancel2()
	src.err = errors.New("S3 down")
	if _, _, err := p.Load(next); err == nil {
		t.Fatal("the next invocation got the old rules instead of the read's error")
	}
	if _, _, err := p.Load(next); err == nil || src.reads != 3 {
		t.Fatalf("a failed read was kept (reads %d, err %v); want a retry", src.reads, err)
	}
	if _, _, _ = p.Load(context.Background()); src.reads != 4 {
		t.Fatalf("no deadline: reads %d, want every call", src.reads)
	}
}
