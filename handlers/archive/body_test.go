package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
)

// TestBodyReadsAndSeeksAcrossSegments: a body reads as the concatenation of
// its segments, compressed ones inflated, from wherever it was sought to,
// again after a seek back, and refuses a bad seek.
func TestBodyReadsAndSeeksAcrossSegments(t *testing.T) {
	var w findingsWriter
	rnd := rand.New(rand.NewPCG(1, 2)) // text that compresses little, reproducibly
	var want strings.Builder
	want.WriteString("head,")
	for i := range 10_000 {
		if err := w.vulnerability(domain.Vulnerability{QID: fmt.Sprint(i), Title: randomText(rnd, i%500)}); err != nil {
			t.Fatal(err)
		}
	}
	z := w.close()
	if len(z.compressed) < 2 {
		t.Fatalf("findings compressed to %d chunks, want several", len(z.compressed))
	}
	zr, _ := z.open()
	inflated, _ := io.ReadAll(zr)
	want.Write(inflated)
	want.WriteString(",end")

	b := newBody(plain([]byte("head,")), z, plain(nil), plain([]byte(",end")))
	if b.Len() != int64(want.Len()) {
		t.Fatalf("Len = %d, want %d", b.Len(), want.Len())
	}
	for _, start := range []int64{0, 3, 5, chunkSize + 7, 2, int64(want.Len()) - 1, int64(want.Len())} {
		if _, err := b.Seek(start, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(b)
		if err != nil || string(got) != want.String()[start:] {
			t.Errorf("from %d: read %d bytes (%v), want %d", start, len(got), err, want.Len()-int(start))
		}
	}
	if pos, err := b.Seek(-4, io.SeekEnd); err != nil || pos != int64(want.Len())-4 {
		t.Errorf("Seek(-4, end) = %d, %v", pos, err)
	}
	if pos, err := b.Seek(1, io.SeekCurrent); err != nil || pos != int64(want.Len())-3 {
		t.Errorf("Seek(1, current) = %d, %v", pos, err)
	}
	if _, err := b.Seek(-1, io.SeekStart); err == nil {
		t.Error("seeking before the start succeeded")
	}
	if _, err := b.Seek(0, 7); err == nil {
		t.Error("seeking with a bad whence succeeded")
	}
}

// TestBodyReportsACorruptSegment: a compressed segment that does not
// inflate to its size fails the read rather than sending a short object.
func TestBodyReportsACorruptSegment(t *testing.T) {
	var w findingsWriter
	_ = w.secret(domain.Secret{RuleID: "r"})
	z := w.close()
	z.size += 10 // claims more than it holds
	if _, err := io.ReadAll(newBody(z)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := io.ReadAll(newBody(segment{compressed: chunks{[]byte("not gzip")}, size: 5})); err == nil || !strings.Contains(err.Error(), "archive body") {
		t.Errorf("error = %v, want one from the archive body", err)
	}
}

// TestChunksSplitWrites: writes land in pieces of chunkSize, whole.
func TestChunksSplitWrites(t *testing.T) {
	var c chunks
	big := bytes.Repeat([]byte("x"), chunkSize+10)
	_, _ = c.Write(big)
	_, _ = c.Write([]byte("yz"))
	if len(c) != 2 || len(c[0]) != chunkSize || len(c[1]) != 12 || c.len() != len(big)+2 {
		t.Fatalf("%d bytes split into %d pieces (%d bytes)", len(big)+2, len(c), c.len())
	}
}

// TestFindingsPastTheLimitAreRefusedForGood: the finding that takes the
// compressed findings past the limit is refused with a permanent ErrInvalid
// that says where (the DLQ keeps the message, and this error with it).
func TestFindingsPastTheLimitAreRefusedForGood(t *testing.T) {
	w := findingsWriter{limit: 1 << 20}
	rnd := rand.New(rand.NewPCG(1, 2)) // text that does not compress, reproducibly
	var err error
	n := 0
	for ; err == nil && n < 100; n++ {
		err = w.vulnerability(domain.Vulnerability{QID: "1", Title: randomText(rnd, 256<<10)})
	}
	if !consume.IsPermanent(err) || !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("error = %v, want a permanent ErrInvalid", err)
	}
	if want := fmt.Sprintf("its findings compress to more than the archive's 1 MiB limit, at vulnerability %d, secret 0", n); !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to say %q", err, want)
	}
}

// randomText is n hex digits drawn from rnd.
func randomText(rnd *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[rnd.IntN(16)]
	}
	return string(b)
}
