package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
)

// backfillRig is a moto registry of a few repositories and a scans table.
type backfillRig struct {
	ecr     *ecr.Client
	store   *dynamostore.ScanStore
	account string
	prefix  string
	images  []domain.ImageRef // the images a backfill should queue
}

func newBackfillRig(t *testing.T) *backfillRig {
	t.Helper()
	ctx := context.Background()
	cfg := mototest.Config(t)
	r := &backfillRig{ecr: ecr.NewFromConfig(cfg), prefix: mototest.UniqueName("bf")}
	ddb := dynamodb.NewFromConfig(cfg)
	table := mototest.UniqueName("scans")
	if _, err := mototest.CreateScansTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.store, err = dynamostore.NewScanStore(ddb, table); err != nil {
		t.Fatal(err)
	}
	digest := func(seed string) string {
		s := sha256.Sum256([]byte(seed))
		return "sha256:" + hex.EncodeToString(s[:])
	}
	put := func(repo, seed, tag string) domain.ImageRef {
		account, err := mototest.CreateRepository(ctx, r.ecr, repo)
		if err != nil {
			t.Fatal(err)
		}
		r.account = account
		ref, err := domain.NewImageRef(account, cfg.Region, repo, digest(seed), tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := local.RecordImage(ctx, r.ecr, ref); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	for i := range 3 {
		for j := range 3 {
			r.images = append(r.images, put(r.prefix+"/app"+string(rune('a'+i)), r.prefix+string(rune('0'+i))+string(rune('0'+j)), "v"+string(rune('0'+j))))
		}
	}
	// A cosign signature (skipped as on push) and an image with a fresh scan.
	sig := put(r.prefix+"/appa", r.prefix+"sig", "sha256-"+strings.Repeat("a", 64)+".sig")
	_ = sig
	fresh := put(r.prefix+"/appb", r.prefix+"fresh", "fresh")
	if err := r.store.Update(ctx, fresh.Digest, func(s *domain.Scan) error {
		now := time.Now()
		if _, err := s.Claim(domain.Claim{Ref: fresh, Owner: "o", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
			return err
		}
		return s.Complete("o", domain.ScanResult{Report: domain.ReportLocation{Bucket: "b", Key: "k"}}, now, 30*24*time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *backfillRig) backfiller(cp *backfillCheckpoint, path string, out *bytes.Buffer, send func(context.Context, events.ScanRequestMessage) error) *backfiller {
	return &backfiller{
		ecr: r.ecr, store: r.store, account: r.account, region: "us-east-1", cp: cp, path: path, out: out,
		pageSize: 2, now: time.Now(), send: send, wait: func(context.Context) error { return nil },
	}
}

// A backfill interrupted part way and resumed from its checkpoint queues
// every image once: none skipped, none twice; artifacts and digests with a
// fresh scan are skipped with their reasons.
func TestBackfillResumesAfterInterruption(t *testing.T) {
	r := newBackfillRig(t)
	path := filepath.Join(t.TempDir(), "backfill.json")
	var sent []events.ScanRequestMessage
	ctx, cancel := context.WithCancel(context.Background())
	send := func(ctx context.Context, m events.ScanRequestMessage) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		sent = append(sent, m)
		if len(sent) == 4 {
			cancel() // interrupted after the fourth request, mid-repository
		}
		return nil
	}
	var out bytes.Buffer
	cp := &backfillCheckpoint{Stack: "s", Globs: []string{r.prefix + "/*"}, Skipped: map[string]int{}}
	if err := r.backfiller(cp, path, &out, send).run(ctx); err == nil {
		t.Fatal("the interrupted run reported success")
	}
	resumed, err := loadBackfillCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Enqueued != 4 {
		t.Fatalf("checkpoint says %d queued, want 4", resumed.Enqueued)
	}
	if err := r.backfiller(resumed, path, &out, send).run(context.Background()); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out.String())
	}
	got := map[domain.Digest]int{}
	for _, m := range sent {
		got[m.Ref.Digest]++
		if m.Cause != domain.CauseBackfill || !m.NotBefore.IsZero() {
			t.Errorf("request %+v: want a backfill that respects the cache", m)
		}
	}
	for _, want := range r.images {
		if got[want.Digest] != 1 {
			t.Errorf("%s queued %d times, want once", want.Display(), got[want.Digest])
		}
	}
	if len(sent) != len(r.images) {
		t.Errorf("%d requests, want %d:\n%s", len(sent), len(r.images), out.String())
	}
	final, _ := loadBackfillCheckpoint(path)
	if !final.Finished || final.Skipped["fresh scan"] != 1 || final.Skipped["not an image (signature)"] != 1 {
		t.Errorf("final checkpoint: finished %v, skipped %v; want finished, 1 fresh and 1 signature\n%s", final.Finished, final.Skipped, out.String())
	}
	if !strings.Contains(out.String(), "skip ") || !strings.Contains(out.String(), "queued") {
		t.Errorf("no progress or skip lines:\n%s", out.String())
	}
}

// --max stops the backfill; an unknown repository is skipped with its
// reason; a dry run sends nothing.
func TestBackfillMaxUnknownRepositoryAndDryRun(t *testing.T) {
	r := newBackfillRig(t)
	var out bytes.Buffer
	n := 0
	send := func(context.Context, events.ScanRequestMessage) error { n++; return nil }
	cp := &backfillCheckpoint{Stack: "s", Globs: []string{r.prefix + "/*", r.prefix + "/missing"}, Max: 2, Skipped: map[string]int{}}
	if err := r.backfiller(cp, filepath.Join(t.TempDir(), "cp.json"), &out, send).run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n != 2 || !strings.Contains(out.String(), "--max 2 reached") || !strings.Contains(out.String(), "skip repository "+r.prefix+"/missing: no such repository") {
		t.Errorf("sent %d, output:\n%s", n, out.String())
	}
	out.Reset()
	dry := &backfillCheckpoint{Stack: "s", Globs: []string{r.prefix + "/appc"}, Skipped: map[string]int{}}
	if err := r.backfiller(dry, "", &out, func(context.Context, events.ScanRequestMessage) error {
		t.Error("a dry run sent a request")
		return nil
	}).run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "would scan ") != 3 {
		t.Errorf("dry run output:\n%s", out.String())
	}
}
