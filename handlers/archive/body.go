package main

import (
	"errors"
	"io"
)

// chunkSize is the size of the pieces a body is built from: large enough
// that a 40 MB document is a few dozen allocations, small enough that none
// needs a long run of free memory and nothing is copied as a body grows
// (a bytes.Buffer doubles, holding the old and the new copy at once).
const chunkSize = 1 << 20

// chunks is a byte sequence written in pieces of chunkSize.
type chunks [][]byte

// Write appends p.
func (c *chunks) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(*c) == 0 || len((*c)[len(*c)-1]) == chunkSize {
			*c = append(*c, make([]byte, 0, chunkSize))
		}
		last := &(*c)[len(*c)-1]
		k := min(len(p), chunkSize-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// body reads the concatenation of its parts without copying them, and can
// seek, so that the S3 client can hash it before it sends and rewind it to
// retry. The parts are shared, never changed.
type body struct {
	parts [][]byte
	size  int64
	off   int64
}

func newBody(parts ...[]byte) *body {
	b := &body{}
	for _, p := range parts {
		if len(p) > 0 {
			b.parts = append(b.parts, p)
			b.size += int64(len(p))
		}
	}
	return b
}

// Len is the number of bytes in the body, whatever has been read.
func (b *body) Len() int64 { return b.size }

func (b *body) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	n := 0
	start := int64(0)
	for _, part := range b.parts {
		end := start + int64(len(part))
		if b.off < end && n < len(p) {
			k := copy(p[n:], part[b.off-start:])
			n += k
			b.off += int64(k)
		}
		start = end
	}
	return n, nil
}

func (b *body) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, errors.New("archive body: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("archive body: negative position")
	}
	b.off = offset
	return offset, nil
}
