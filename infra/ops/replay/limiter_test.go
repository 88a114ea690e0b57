package replay

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The limiter lets the first batch go and spaces the rest at the rate; it
// does not make up for idle time with a burst.
func TestLimiterPaces(t *testing.T) {
	l, err := NewLimiter(10)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var slept []time.Duration
	l.now = func() time.Time { return now }
	l.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil }
	steps := []struct {
		n    int
		idle time.Duration
		want time.Duration
	}{
		{n: 10, want: 0},
		{n: 10, want: time.Second},
		{n: 5, want: time.Second},
		{n: 1, idle: 10 * time.Second, want: 0},
		{n: 1, want: 100 * time.Millisecond},
	}
	for i, s := range steps {
		now = now.Add(s.idle)
		slept = nil
		if err := l.Wait(context.Background(), s.n); err != nil {
			t.Fatal(err)
		}
		var got time.Duration
		for _, d := range slept {
			got += d
		}
		if got != s.want {
			t.Errorf("step %d: waited %v, want %v", i, got, s.want)
		}
	}
	if _, err := NewLimiter(0); err == nil {
		t.Error("a zero rate was accepted")
	}
}

// Text compares like time only within one zone; the scan filter's bounds
// keep every record whose completion lies in the window, whatever zone it
// was written in, and Selection.Match decides the rest.
func TestScanFilterBoundsCoverEveryZone(t *testing.T) {
	since := time.Date(2024, 5, 1, 12, 0, 0, 500, time.UTC)
	until := time.Date(2024, 5, 2, 12, 0, 0, 0, time.UTC)
	f := scanFilter(Selection{Since: since, Until: until})
	loS := stringValue(t, f, ":since")
	hiS := stringValue(t, f, ":until")
	for _, offset := range []int{-12, -5, 0, 1, 5, 14} {
		zone := time.FixedZone("z", offset*3600)
		for _, at := range []time.Time{since, since.Add(time.Nanosecond), until.Add(-time.Nanosecond), until.Add(-time.Second)} {
			s := at.In(zone).Format(time.RFC3339Nano)
			if s < loS || s >= hiS {
				t.Errorf("%s (in the window) falls outside the filter [%s, %s)", s, loS, hiS)
			}
		}
	}
	if f.names["#completedAt"] != "completedAt" || f.names["#status"] != "status" {
		t.Errorf("names %v", f.names)
	}
}

func stringValue(t *testing.T, f filter, name string) string {
	t.Helper()
	v, ok := f.values[name].(*types.AttributeValueMemberS)
	if !ok {
		t.Fatalf("%s is %T", name, f.values[name])
	}
	return v.Value
}
