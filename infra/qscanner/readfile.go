package qscanner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// maxOutputFile caps the size of each QScanner output file the parser reads.
// The stand-in's 20,000-finding SARIF (BenchmarkParseDir20000) is 11.9 MB,
// about 600 bytes a finding; Qualys's own rules carry longer descriptions,
// which the parser skips but must still read. 128 MiB is ten times that
// report: room for 20,000 findings at 6.7 KB each. The file is decoded as a
// stream, so memory goes to the findings kept, about 3.5 KB each in the
// benchmark: a full-size file at the stand-in's density (some 220,000
// findings) stays under 1 GB, inside the scan function's default 2 GB, and
// takes a few seconds of CPU. Anything larger is not a report this function
// can hold: it is refused before it is read, not found out by running out of
// memory.
const maxOutputFile = 128 << 20

// errOutputTooLarge is wrapped by the error for a file over maxOutputFile.
var errOutputTooLarge = errors.New("output file too large")

// openOutput opens one output file for reading. Only a regular file is read:
// a symlink (which could lead anywhere, /dev/zero or a FIFO that never ends),
// a named pipe, a device or a socket is refused before it is opened, and the
// mode is checked again on the opened file in case the entry was swapped in
// between (openFlags adds O_NOFOLLOW, and O_NONBLOCK so that opening a FIFO
// cannot hang).
func openOutput(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err == nil {
		err = checkRegular(fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkRegular refuses anything but a regular file of at most maxOutputFile
// bytes.
func checkRegular(fi fs.FileInfo) error {
	m := fi.Mode()
	if !m.IsRegular() {
		return fmt.Errorf("a %s, not a regular file: only regular files are read", kindOf(m))
	}
	if fi.Size() > maxOutputFile {
		return fmt.Errorf("%w: %d bytes, over the limit of %s", errOutputTooLarge, fi.Size(), mib(maxOutputFile))
	}
	return nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	}
	return "special file"
}

// capReader reads at most limit bytes and fails, rather than ending
// early, on a file that grew past the cap after it was opened: a report cut
// short must not pass for a complete one.
type capReader struct {
	f     io.Reader
	left  int64
	limit int64
}

func newCapReader(f io.Reader, limit int64) *capReader {
	return &capReader{f: f, left: limit, limit: limit}
}

func (r *capReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		var one [1]byte
		if n, _ := r.f.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%w: grew over the limit of %s while read", errOutputTooLarge, mib(r.limit))
		}
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.Read(p)
	r.left -= int64(n)
	return n, err
}

// readFile decodes one output file with decode, which reads the file through
// a reader that stops at ctx's deadline and at the size cap.
func readFile[T any](ctx context.Context, path string, decode func(context.Context, io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := openOutput(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	return decode(ctx, ctxReader{ctx: ctx, r: newCapReader(bufio.NewReaderSize(f, 64<<10), maxOutputFile)})
}

// ctxReader stops reading once ctx is done: a parse must not outlive the
// invocation's deadline.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
