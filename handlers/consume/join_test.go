package consume

import (
	"errors"
	"fmt"
	"testing"
)

func TestJoinIsPermanentOnlyWhenEveryPartIs(t *testing.T) {
	gone := Permanent(errors.New("repository gone"))
	busy := errors.New("throttled")
	tests := []struct {
		name          string
		errs          []error
		wantNil       bool
		wantPermanent bool
	}{
		{"no failures", []error{nil, nil}, true, false},
		{"all permanent", []error{gone, Permanent(errors.New("invalid"))}, false, true},
		{"one retryable part keeps it retryable", []error{gone, busy, nil}, false, false},
		{"all retryable", []error{busy}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Join(tc.errs...)
			if (err == nil) != tc.wantNil {
				t.Fatalf("Join = %v, want nil=%v", err, tc.wantNil)
			}
			if IsPermanent(err) != tc.wantPermanent {
				t.Errorf("IsPermanent(Join) = %v, want %v", IsPermanent(err), tc.wantPermanent)
			}
			for _, e := range tc.errs {
				if e != nil && !errors.Is(err, e) {
					t.Errorf("Join lost %v", e)
				}
			}
		})
	}
}

func TestIsPermanentDoesNotLookInsideAJoin(t *testing.T) {
	mixed := errors.Join(Permanent(errors.New("gone")), errors.New("throttled"))
	if IsPermanent(mixed) {
		t.Error("a join with one permanent part counts as permanent")
	}
	if !IsPermanent(fmt.Errorf("archive: %w", Permanent(errors.New("gone")))) {
		t.Error("a wrapped permanent error is not permanent")
	}
}
