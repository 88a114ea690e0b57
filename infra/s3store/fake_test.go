package s3store

import (
	"testing"

	"ecrscanner/infra/ops/testkit"
)

// object is what fake holds at bucket/key; the test fails if nothing.
func object(t *testing.T, fake *testkit.MemoryObjects, bucket, key string) []byte {
	t.Helper()
	b, ok := fake.Object(bucket, key)
	if !ok {
		t.Fatalf("no object at %s/%s", bucket, key)
	}
	return b
}
