package attr_test

import (
	"errors"
	"testing"

	"ecrscanner/infra/attr"
)

func TestErr(t *testing.T) {
	a := attr.Err(errors.New("S3 unavailable"))
	if a.Key != "error" || a.Value.String() != "S3 unavailable" {
		t.Errorf("Err = %v, want error=S3 unavailable", a)
	}
}
