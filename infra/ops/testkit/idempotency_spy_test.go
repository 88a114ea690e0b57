package testkit_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"ecrscanner/infra/ops/testkit"
)

func TestMemoryIdempotencyStoreRecordsAndFailsOnDemand(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := testkit.NewMemoryIdempotencyStore(clk.Now)
	other := s.Peer()
	if err := other.Finish(ctx, "done", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := s.Markers(); !reflect.DeepEqual(got, map[string]string{"done": testkit.MarkerDone, "k": testkit.MarkerInProgress}) {
		t.Errorf("Markers = %v", got)
	}
	down := errors.New("table unreachable")
	s.FailFinish(down)
	if err := s.Finish(ctx, "k", 2*time.Hour); !errors.Is(err, down) {
		t.Errorf("Finish after FailFinish = %v, want %v", err, down)
	}
	if m := s.Marker("k"); m != testkit.MarkerInProgress {
		t.Errorf("marker after a failed Finish = %q, want it unchanged", m)
	}
	if err := s.Abandon(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"start k", "finish k", "abandon k"}; !reflect.DeepEqual(s.Calls(), want) {
		t.Errorf("Calls = %q, want %q (the peer's own calls apart)", s.Calls(), want)
	}
	if !reflect.DeepEqual(s.Leases(), []time.Duration{time.Minute}) || !reflect.DeepEqual(s.Retentions(), []time.Duration{2 * time.Hour}) {
		t.Errorf("Leases %v, Retentions %v", s.Leases(), s.Retentions())
	}
	clk.Advance(time.Hour + time.Second)
	if m := s.Marker("done"); m != "" {
		t.Errorf("marker past its retention = %q, want none", m)
	}
}
