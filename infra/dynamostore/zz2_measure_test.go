package dynamostore

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestZZSerial(t *testing.T) {
	s := newDynamoScanStore(t)
	d := randomDigest(t)
	now := time.Now()
	start := time.Now()
	for i := range 50 {
		if _, err := claim(context.Background(), s, imageRef(t, d, "app", fmt.Sprintf("t%d", i)), fmt.Sprint(i), now); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("50 serial claims: %v", time.Since(start))
}
