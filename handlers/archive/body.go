package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// chunkSize is the size of the pieces compressed findings are kept in: no
// copy as they grow (a bytes.Buffer doubles, holding the old and the new
// copy at once), and no long run of free memory needed.
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

// len is the number of bytes written.
func (c chunks) len() int {
	if len(c) == 0 {
		return 0
	}
	return (len(c)-1)*chunkSize + len(c[len(c)-1])
}

// segment is one stretch of a body: plain bytes, or gzip-compressed ones
// inflated as they are read.
type segment struct {
	plain      []byte
	compressed chunks
	size       int64 // bytes it reads as
}

// plain is a segment of b as it is.
func plain(b []byte) segment { return segment{plain: b, size: int64(len(b))} }

func (s segment) open() (io.Reader, error) {
	if s.compressed == nil {
		return bytes.NewReader(s.plain), nil
	}
	parts := make([]io.Reader, len(s.compressed))
	for i, c := range s.compressed {
		parts[i] = bytes.NewReader(c)
	}
	zr, err := gzip.NewReader(io.MultiReader(parts...))
	if err != nil {
		return nil, fmt.Errorf("archive body: %w", err)
	}
	return zr, nil
}

// body reads as the concatenation of its segments without holding it
// whole, and can seek, so that the S3 client can hash it before it sends
// and rewind it to retry: a seek back restarts the reading (inflating the
// compressed segments again) and skips to the position. Segments are shared,
// never changed.
type body struct {
	segments []segment
	size     int64
	r        io.Reader // nil until read from the start
	pos      int64     // where r is
	want     int64     // where the next Read starts
}

func newBody(segments ...segment) *body {
	b := &body{}
	for _, s := range segments {
		if s.size > 0 {
			b.segments = append(b.segments, s)
			b.size += s.size
		}
	}
	return b
}

// Len is the number of bytes in the body, whatever has been read.
func (b *body) Len() int64 { return b.size }

func (b *body) Read(p []byte) (int, error) {
	if b.want >= b.size {
		return 0, io.EOF
	}
	if b.r == nil || b.want < b.pos {
		if err := b.restart(); err != nil {
			return 0, err
		}
	}
	if b.want > b.pos {
		n, err := io.CopyN(io.Discard, b.r, b.want-b.pos)
		b.pos += n
		if err != nil {
			return 0, fmt.Errorf("archive body: skip to %d: %w", b.want, err)
		}
	}
	n, err := b.r.Read(p)
	b.pos += int64(n)
	b.want = b.pos
	if err == io.EOF && b.pos < b.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// restart reads the body from its start again.
func (b *body) restart() error {
	readers := make([]io.Reader, 0, len(b.segments))
	for _, s := range b.segments {
		r, err := s.open()
		if err != nil {
			return err
		}
		readers = append(readers, r)
	}
	b.r, b.pos = io.MultiReader(readers...), 0
	return nil
}

func (b *body) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.want
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, errors.New("archive body: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("archive body: negative position")
	}
	b.want = offset
	return offset, nil
}
