package chaos

import (
	"reflect"
	"strings"
	"testing"
)

func TestNewPlanIsReproducible(t *testing.T) {
	a, err := NewPlan(7, Full, "p")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPlan(7, Full, "p")
	if !reflect.DeepEqual(a, b) {
		t.Error("two plans of seed 7 differ")
	}
	c, _ := NewPlan(8, Full, "p")
	if reflect.DeepEqual(a.Pushes, c.Pushes) || reflect.DeepEqual(a.Images, c.Images) {
		t.Error("seeds 7 and 8 give the same pushes or images")
	}
}

func TestNewPlanShape(t *testing.T) {
	for _, size := range []Size{Small, Full} {
		t.Run(size.Name, func(t *testing.T) {
			p, err := NewPlan(20261202, size, "chaos-x")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Pushes) != size.Pushes || len(p.Images) != size.Digests || len(p.Repositories) != size.Repositories {
				t.Fatalf("%d pushes, %d images, %d repositories; want %d, %d, %d", len(p.Pushes), len(p.Images), len(p.Repositories), size.Pushes, size.Digests, size.Repositories)
			}
			dups, outOfOrder := 0, 0
			first := map[int]bool{}
			for i, push := range p.Pushes {
				if push.Duplicate {
					dups++
					if !first[push.Ref] {
						outOfOrder++ // the repeat arrives before the original
					}
				} else {
					first[push.Ref] = true
				}
				if i > 0 && push.Ref < p.Pushes[i-1].Ref {
					outOfOrder++
				}
			}
			if want := size.Pushes * 3 / 10; dups != want {
				t.Errorf("%d duplicate pushes, want %d (30%%)", dups, want)
			}
			if outOfOrder == 0 {
				t.Error("pushes arrive in order")
			}
			seen := map[Ref]bool{}
			pushed := map[int]bool{}
			for _, r := range p.Refs {
				if seen[r] {
					t.Errorf("ref %+v twice", r)
				}
				seen[r] = true
				pushed[r.Image] = true
			}
			if len(pushed) != size.Digests {
				t.Errorf("%d of %d images pushed", len(pushed), size.Digests)
			}
			for _, m := range []string{ModeCrash, ModeHang, ModeExit40} {
				if p.ModeCount(m) == 0 {
					t.Errorf("no digest in mode %s", m)
				}
			}
			if len(p.Kills) != size.Kills || p.PoisonAfter <= 0 || p.PoisonAfter >= size.Pushes {
				t.Errorf("kills %v, poison after %d", p.Kills, p.PoisonAfter)
			}
		})
	}
}

func TestNewPlanRejectsTooFewPushes(t *testing.T) {
	_, err := NewPlan(1, Size{Name: "tiny", Pushes: 10, Digests: 9, Repositories: 1}, "p")
	if err == nil || !strings.Contains(err.Error(), "cannot cover 9 digests") {
		t.Errorf("error %v, want one saying 7 distinct pushes cannot cover 9 digests", err)
	}
}

func TestImageBuildIsStable(t *testing.T) {
	digest := func(img Image) string {
		b, err := img.Build()
		if err != nil {
			t.Fatal(err)
		}
		d, err := b.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	a := Image{Index: 3, Seed: 99}
	if digest(a) != digest(a) {
		t.Error("one image, two digests")
	}
	if digest(a) == digest(Image{Index: 3, Seed: 100}) {
		t.Error("two seeds, one digest")
	}
}
