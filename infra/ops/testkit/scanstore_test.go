package testkit_test

import (
	"context"
	"errors"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

// A failed write lands nothing and returns its error; fn errors do not use
// up the armed failures; after them, writes land again.
func TestMemoryScanStoreFailsTheNextWrites(t *testing.T) {
	s := testkit.NewMemoryScanStore()
	ref := testkit.MustRef(t, "team/app", "v1")
	throttled := errors.New("ProvisionedThroughputExceededException")
	refuse := errors.New("refused by fn")
	s.FailNextWrites(2, throttled)
	steps := []struct {
		name        string
		fnErr       error
		want        error
		wantVersion int64
	}{
		{"an fn error is no write", refuse, refuse, 0},
		{"first armed write fails", nil, throttled, 0},
		{"second armed write fails", nil, throttled, 0},
		{"then writes land", nil, nil, 1},
	}
	for _, st := range steps {
		err := s.Update(context.Background(), ref.Digest, func(*domain.Scan) error { return st.fnErr })
		if !errors.Is(err, st.want) || s.Record(ref.Digest).Version != st.wantVersion {
			t.Fatalf("%s: Update = %v, version %d; want %v, version %d", st.name, err, s.Record(ref.Digest).Version, st.want, st.wantVersion)
		}
	}
	if n := len(s.Writes()); n != 1 {
		t.Errorf("%d writes recorded, want 1", n)
	}
}
