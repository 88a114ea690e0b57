package main

import (
	"context"
	"testing"

	"ecrscanner/infra/ops/modroot"
)

// TestFloorsLinkNoMoreThanTheirFunctions keeps each floor program honest:
// it links no SDK service client its function does not, so a client
// removed from a function without its floor shows here rather than as a
// better ratio. What a function links beyond its floor is logged (make
// bench prints it too).
func TestFloorsLinkNoMoreThanTheirFunctions(t *testing.T) {
	root, err := modroot.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{root: root}
	if b.functions, err = functions(); err != nil {
		t.Fatal(err)
	}
	for _, fn := range b.functions {
		floor, err1 := linkedServices(context.Background(), root, floorPkg(fn))
		own, err2 := linkedServices(context.Background(), root, "./handlers/"+fn)
		if err := firstErr(err1, err2); err != nil {
			t.Fatal(err)
		}
		if missing := difference(floor, own); len(missing) > 0 {
			t.Errorf("%s: the floor links %v, which the function does not", fn, missing)
		}
		t.Logf("%s links beyond its floor: %v", fn, difference(own, floor))
	}
}

func TestDifference(t *testing.T) {
	if got := difference([]string{"a", "b", "c"}, []string{"b"}); len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Errorf("got %v", got)
	}
}
