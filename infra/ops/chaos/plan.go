package chaos

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Size is how big a run is.
type Size struct {
	Name         string
	Pushes       int // push events sent, duplicates included
	Digests      int // distinct images
	Repositories int
	Kills        int // function workers killed mid-batch
	// SecurityHub deploys the Security Hub handler. The full size leaves it
	// out: moto's GetFindings reads every finding stored, under the lock
	// that serializes moto, so each import slows as findings accumulate and
	// the whole run waits on moto (700 events took over ten minutes), which
	// says nothing about the code under test.
	SecurityHub bool
}

// The two sizes: Small runs inside `make test`, Full is `make chaos`.
var (
	Small = Size{Name: "small", Pushes: 40, Digests: 10, Repositories: 3, Kills: 2, SecurityHub: true}
	Full  = Size{Name: "full", Pushes: 500, Digests: 100, Repositories: 5, Kills: 6}
)

// DuplicateShare is the share of pushes that repeat an earlier one.
const DuplicateShare = 0.30

// QScanner stand-in modes (testdata/qscanner-standin) and the share of
// digests given each; the rest scan normally. Each mode goes to at least one
// digest, so a small run sees every failure too.
const (
	ModeOK     = "ok"
	ModeCrash  = "crash"  // dies by signal mid-scan
	ModeHang   = "hang"   // never returns; the runner's deadline ends it
	ModeExit40 = "exit40" // QScanner's "failed to get the vulnerability report"
)

var modeShares = []struct {
	mode  string
	share float64
}{{ModeCrash, 0.06}, {ModeHang, 0.04}, {ModeExit40, 0.06}}

// killTargets are the functions whose workers are killed, in turn.
var killTargets = []string{"ScanFunction", "ArchiveFunction", "TagFunction", "AlertFunction"}

// Image is one distinct image content.
type Image struct {
	Index int
	Mode  string // the stand-in's behaviour for its digest
	Seed  uint64 // its content's seed
}

// Ref is one place an image is pushed to.
type Ref struct {
	Image      int
	Repository string
	Tag        string
}

// Push is one push event sent, in order.
type Push struct {
	Ref       int  // index into Plan.Refs
	Duplicate bool // repeats an earlier push of the same ref
}

// Kill is a kill of a function's workers once Push pushes were sent.
type Kill struct {
	AfterPush int
	Function  string // logical ID
}

// Plan is everything one seed decides before the run.
type Plan struct {
	Seed         uint64
	Size         Size
	Repositories []string
	Images       []Image
	Refs         []Ref
	Pushes       []Push
	Kills        []Kill
	PoisonAfter  int // poison messages go out once this many pushes were sent
}

// NewPlan derives a run from seed: the same seed and size give the same plan.
// prefix names the repositories (unique per run, so runs on one moto do not
// meet).
func NewPlan(seed uint64, size Size, prefix string) (*Plan, error) {
	distinct := size.Pushes - int(math.Round(DuplicateShare*float64(size.Pushes)))
	if size.Digests <= 0 || size.Repositories <= 0 || distinct < size.Digests {
		return nil, fmt.Errorf("chaos plan %s: %d pushes (%d distinct) cannot cover %d digests in %d repositories",
			size.Name, size.Pushes, distinct, size.Digests, size.Repositories)
	}
	rng := rand.New(rand.NewPCG(seed, 0x63686173)) // "chas"
	p := &Plan{Seed: seed, Size: size, PoisonAfter: size.Pushes / 2}
	for i := range size.Repositories {
		p.Repositories = append(p.Repositories, fmt.Sprintf("%s/app-%d", prefix, i))
	}
	p.Images = make([]Image, size.Digests)
	for i := range p.Images {
		p.Images[i] = Image{Index: i, Mode: ModeOK, Seed: rng.Uint64()}
	}
	order := rng.Perm(size.Digests)
	next := 0
	for _, ms := range modeShares {
		n := max(1, int(math.Round(ms.share*float64(size.Digests))))
		for k := 0; k < n && next < len(order); k++ {
			p.Images[order[next]].Mode = ms.mode
			next++
		}
	}
	p.Refs = planRefs(rng, size, p.Repositories, distinct)
	p.Pushes = planPushes(rng, size.Pushes, len(p.Refs))
	for k := range size.Kills {
		p.Kills = append(p.Kills, Kill{AfterPush: (k + 1) * size.Pushes / (size.Kills + 1), Function: killTargets[k%len(killTargets)]})
	}
	return p, nil
}

// planRefs gives every image one ref, then spreads the other distinct
// pushes over random images, repositories and new tags.
func planRefs(rng *rand.Rand, size Size, repos []string, distinct int) []Ref {
	refs := make([]Ref, 0, distinct)
	tags := make([]int, size.Digests)
	add := func(img int) {
		tags[img]++
		refs = append(refs, Ref{Image: img, Repository: repos[rng.IntN(len(repos))], Tag: fmt.Sprintf("d%03d-v%d", img, tags[img])})
	}
	for img := range size.Digests {
		add(img)
	}
	for len(refs) < distinct {
		add(rng.IntN(size.Digests))
	}
	return refs
}

// planPushes sends each ref once and repeats random ones up to n pushes,
// then shuffles them all: duplicates arrive before or after their original.
func planPushes(rng *rand.Rand, n, refs int) []Push {
	pushes := make([]Push, 0, n)
	for r := range refs {
		pushes = append(pushes, Push{Ref: r})
	}
	for len(pushes) < n {
		pushes = append(pushes, Push{Ref: rng.IntN(refs), Duplicate: true})
	}
	rng.Shuffle(len(pushes), func(i, j int) { pushes[i], pushes[j] = pushes[j], pushes[i] })
	return pushes
}

// ModeCount is how many images have mode.
func (p *Plan) ModeCount(mode string) int {
	n := 0
	for _, img := range p.Images {
		if img.Mode == mode {
			n++
		}
	}
	return n
}
