package s3store

import (
	"context"
	"errors"
	"testing"

	"ecrscanner/domain"
)

func TestMotoFindReport(t *testing.T) {
	client, bucket := motoBucket(t)
	ctx := context.Background()
	store, err := NewReports(client, bucket)
	if err != nil {
		t.Fatal(err)
	}
	put, err := store.PutReport(ctx, "scan-found", sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	got, loc, err := store.FindReport(ctx, testDigest, "scan-found")
	if err != nil || loc != put || got.Digest != testDigest {
		t.Fatalf("FindReport = %v at %+v, %v; want the report at %+v", got, loc, err, put)
	}
	if _, _, err := store.FindReport(ctx, testDigest, "scan-never"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("FindReport of a scan that stored nothing = %v, want ErrNotFound", err)
	}
	if _, _, err := store.FindReport(ctx, testDigest, "../scan-found"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("FindReport of a path = %v, want ErrInvalid", err)
	}
}
