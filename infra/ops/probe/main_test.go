package probe_test

import (
	"os"
	"testing"

	"ecrscanner/infra/ops/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }
