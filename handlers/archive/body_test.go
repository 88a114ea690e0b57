package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
)

// TestBodyReadsAndSeeksAcrossParts: a body reads as the concatenation of
// its parts, from wherever it was sought to, and refuses a bad seek.
func TestBodyReadsAndSeeksAcrossParts(t *testing.T) {
	var c chunks
	big := bytes.Repeat([]byte("x"), chunkSize+10)
	_, _ = c.Write(big)
	if len(c) != 2 || len(c[0]) != chunkSize || len(c[1]) != 10 {
		t.Fatalf("chunks of %d bytes split as %d pieces", len(big), len(c))
	}
	b := newBody(append(append([][]byte{[]byte("head,")}, c...), nil, []byte(",end"))...)
	want := "head," + string(big) + ",end"
	if b.Len() != int64(len(want)) {
		t.Fatalf("Len = %d, want %d", b.Len(), len(want))
	}
	for _, start := range []int64{0, 3, 5, chunkSize + 7, int64(len(want))} {
		if _, err := b.Seek(start, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(b)
		if err != nil || string(got) != want[start:] {
			t.Errorf("from %d: read %d bytes (%v), want %d", start, len(got), err, len(want)-int(start))
		}
	}
	if pos, err := b.Seek(-4, io.SeekEnd); err != nil || pos != int64(len(want))-4 {
		t.Errorf("Seek(-4, end) = %d, %v", pos, err)
	}
	if pos, err := b.Seek(1, io.SeekCurrent); err != nil || pos != int64(len(want))-3 {
		t.Errorf("Seek(1, current) = %d, %v", pos, err)
	}
	if _, err := b.Seek(-1, io.SeekStart); err == nil {
		t.Error("seeking before the start succeeded")
	}
	if _, err := b.Seek(0, 7); err == nil {
		t.Error("seeking with a bad whence succeeded")
	}
}

// TestFindingsPastTheLimitAreRefusedForGood: the finding that takes the
// encoded findings past the limit is refused with a permanent ErrInvalid
// that says where (the DLQ keeps the message, and this error with it).
func TestFindingsPastTheLimitAreRefusedForGood(t *testing.T) {
	w := findingsWriter{limit: 3 << 20}
	v := domain.Vulnerability{QID: "1", Title: strings.Repeat("t", 1<<20)}
	var err error
	for i := 0; err == nil && i < 10; i++ {
		err = w.vulnerability(v)
	}
	if !consume.IsPermanent(err) || !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("error = %v, want a permanent ErrInvalid", err)
	}
	if want := "its findings encode to more than the archive's 3 MiB limit, at vulnerability 3, secret 0"; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to say %q", err, want)
	}
}
