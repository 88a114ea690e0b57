package qscanner

import (
	"context"
	"errors"
	"io"
	"strings"
)

// lexer reads JSON in one pass over a buffer refilled from a stream: the fast
// path of the SARIF parse (fastsarif.go). encoding/json's Decoder scans each
// value twice (once to find its end, once to decode it), which made the
// streaming parse as slow as decoding the whole file into any.
//
// The lexer is at least as strict as encoding/json: anything it is unsure of
// (an escape in a key, a key that matches a field only case-insensitively,
// a duplicated field, a value of an unexpected type, nesting deeper than
// maxLexDepth, any syntax error, any read error) stops the fast path with
// errSlowPath, and the caller parses the file again with the reference
// decoder, so that errors and odd inputs read exactly as they always have.
// It panics with slowPath to unwind; fast() recovers it.
type lexer struct {
	ctx context.Context
	r   io.Reader
	buf []byte
	pos int // the next unread byte in buf
	// mark is the start in buf of a value being captured (raw), or -1: a
	// refill keeps the bytes from mark on.
	mark int
	done bool // the reader has returned io.EOF (any other error goes to the reference)
	// stack holds the containers skip has open.
	stack []byte
}

// errSlowPath says the fast path left the input to the reference decoder.
var errSlowPath = errors.New("input left to the reference decoder")

type slowPath struct{}

// maxLexDepth bounds nesting in skipped values; encoding/json allows 10,000.
const maxLexDepth = 1000

// lexBufSize is the lexer's read size; a value captured by raw may grow the
// buffer beyond it.
const lexBufSize = 64 << 10

func newLexer(ctx context.Context, r io.Reader) *lexer {
	return &lexer{ctx: ctx, r: r, buf: make([]byte, 0, lexBufSize), mark: -1}
}

// fast runs read, turning a slowPath panic into errSlowPath.
func fast[T any](read func() T) (out T, err error) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(slowPath); !ok {
				panic(p)
			}
			var zero T
			out, err = zero, errSlowPath
		}
	}()
	return read(), nil
}

func slow() { panic(slowPath{}) }

// fill reads more input, keeping the bytes from mark (or pos) on; it reports
// whether there is at least one unread byte.
func (l *lexer) fill() bool {
	for l.pos >= len(l.buf) {
		if l.done {
			return false
		}
		keep := l.pos
		if l.mark >= 0 {
			keep = l.mark
			l.mark = 0
		}
		n := copy(l.buf, l.buf[keep:])
		l.buf, l.pos = l.buf[:n], l.pos-keep
		if len(l.buf) == cap(l.buf) {
			l.buf = append(l.buf, make([]byte, cap(l.buf))...)[:n]
		}
		m, err := l.r.Read(l.buf[n:cap(l.buf)])
		l.buf = l.buf[:n+m]
		if err == io.EOF {
			l.done = true
		} else if err != nil {
			slow() // the reference decoder meets it again and reports it
		}
	}
	return true
}

// byteAt returns the unread byte without consuming it; the end of input
// inside a document is left to the reference decoder.
func (l *lexer) byteAt() byte {
	if l.pos >= len(l.buf) && !l.fill() {
		slow()
	}
	return l.buf[l.pos]
}

// next skips whitespace and returns the next byte, not consumed.
func (l *lexer) next() byte {
	for {
		c := l.byteAt()
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return c
		}
		l.pos++
	}
}

// atEnd skips whitespace and reports whether the input ends there.
func (l *lexer) atEnd() bool {
	for {
		if l.pos >= len(l.buf) && !l.fill() {
			return true
		}
		switch l.buf[l.pos] {
		case ' ', '\n', '\r', '\t':
			l.pos++
		default:
			return false
		}
	}
}

func (l *lexer) expect(c byte) {
	if l.next() != c {
		slow()
	}
	l.pos++
}

// null consumes a null if one comes next.
func (l *lexer) null() bool {
	if l.next() != 'n' {
		return false
	}
	l.literal("null")
	return true
}

func (l *lexer) literal(word string) {
	for i := 0; i < len(word); i++ {
		if l.byteAt() != word[i] {
			slow()
		}
		l.pos++
	}
}

// object reads an object, calling field with the index in names of each key
// (-1 for a key that is none of them), after its colon; field must consume
// the value. A name seen twice, or a key equal to a name only when case is
// ignored (encoding/json would match it), is left to the reference decoder.
// It reports a null.
func (l *lexer) object(names []string, field func(i int)) (null bool) {
	if l.null() {
		return true
	}
	var seen uint64
	l.elements('{', '}', func() {
		i := l.key(names)
		if i >= 0 {
			if seen&(1<<i) != 0 {
				slow()
			}
			seen |= 1 << i
		}
		l.expect(':')
		field(i)
	})
	return false
}

// elements reads an object or an array, open next, calling each for every
// element (or key and value), which each must consume.
func (l *lexer) elements(open, close byte, each func()) {
	l.expect(open)
	if l.next() == close {
		l.pos++
		return
	}
	for {
		each()
		switch l.next() {
		case ',':
			l.pos++
		case close:
			l.pos++
			return
		default:
			slow()
		}
	}
}

// key reads an object key and returns its index in names, or -1.
func (l *lexer) key(names []string) int {
	if l.next() != '"' {
		slow()
	}
	l.mark = l.pos
	l.pos++
	for {
		if l.pos >= len(l.buf) && !l.fill() {
			slow()
		}
		c := l.buf[l.pos]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			slow() // escaped or non-ASCII keys: the reference decoder folds them
		}
		l.pos++
	}
	k := l.buf[l.mark+1 : l.pos]
	l.pos++
	l.mark = -1
	found := -1
	for i, n := range names {
		if string(k) == n {
			found = i
		} else if len(k) == len(n) && strings.EqualFold(string(k), n) {
			slow()
		}
	}
	return found
}

// array reads an array, calling elem for each element, which it must
// consume; the deadline is checked before each. It reports a null.
func (l *lexer) array(elem func()) (null bool) {
	if l.null() {
		return true
	}
	l.elements('[', ']', func() {
		if l.ctx.Err() != nil {
			slow()
		}
		elem()
	})
	return false
}

// raw reads the next value and returns its bytes, valid until the next read.
func (l *lexer) raw() []byte {
	l.next()
	l.mark = l.pos
	l.skip()
	b := l.buf[l.mark:l.pos]
	l.mark = -1
	return b
}

// skip reads past the next value, checking its syntax as encoding/json does.
// The open containers are kept in l.stack ('{' or '[').
func (l *lexer) skip() {
	base := len(l.stack)
	for {
		switch c := l.next(); {
		case c == '{' || c == '[':
			l.pos++
			if len(l.stack)-base >= maxLexDepth {
				slow()
			}
			if l.next() == c+2 { // '}' and ']' are two past '{' and '['
				l.pos++
				break
			}
			l.stack = append(l.stack, c)
			if c == '{' {
				l.objectKey()
			}
			continue
		case c == '"':
			l.skipString()
		case c == '-' || (c >= '0' && c <= '9'):
			l.skipNumber()
		case c == 't':
			l.literal("true")
		case c == 'f':
			l.literal("false")
		case c == 'n':
			l.literal("null")
		default:
			slow()
		}
		if !l.afterValue(base) {
			return
		}
	}
}

// afterValue reads what follows a value inside skip: commas (and the next
// key) or closings. It reports whether another value follows, false once
// the containers above base are all closed.
func (l *lexer) afterValue(base int) bool {
	for len(l.stack) > base {
		top := l.stack[len(l.stack)-1]
		switch c := l.next(); c {
		case ',':
			l.pos++
			if top == '{' {
				l.objectKey()
			}
			return true
		case top + 2:
			l.pos++
			l.stack = l.stack[:len(l.stack)-1]
		default:
			slow()
		}
	}
	return false
}

// objectKey reads a key and its colon inside skip.
func (l *lexer) objectKey() {
	if l.next() != '"' {
		slow()
	}
	l.skipString()
	l.expect(':')
}

// skipString reads past a string, the opening quote next: control
// characters and malformed escapes are errors, as in encoding/json; any
// other byte, invalid UTF-8 included, is accepted as encoding/json accepts it.
func (l *lexer) skipString() {
	l.pos++
	for {
		if l.pos >= len(l.buf) && !l.fill() {
			slow()
		}
		// Scan the buffered bytes without a call per byte.
		b := l.buf[l.pos:]
		i := 0
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		l.pos += i
		if i == len(b) {
			continue
		}
		switch c := b[i]; {
		case c == '"':
			l.pos++
			return
		case c < 0x20:
			slow()
		}
		l.pos++ // the backslash
		switch l.byteAt() {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			l.pos++
		case 'u':
			l.pos++
			for range 4 {
				if !isHex(l.byteAt()) {
					slow()
				}
				l.pos++
			}
		default:
			slow()
		}
	}
}

// skipNumber reads past a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. What follows it is checked
// by the caller (a delimiter, or the end of the document).
func (l *lexer) skipNumber() {
	if l.byteAt() == '-' {
		l.pos++
	}
	if c := l.byteAt(); c == '0' {
		l.pos++
	} else if c >= '1' && c <= '9' {
		l.digits()
	} else {
		slow()
	}
	if l.peekIs('.') {
		l.pos++
		l.digits()
	}
	if l.peekIs('e') || l.peekIs('E') {
		l.pos++
		if l.peekIs('+') || l.peekIs('-') {
			l.pos++
		}
		l.digits()
	}
}

// digits reads one or more decimal digits.
func (l *lexer) digits() {
	if c := l.byteAt(); c < '0' || c > '9' {
		slow()
	}
	for l.peekIsDigit() {
		l.pos++
	}
}

// peekIs reports whether c is the next byte; the end of input is no byte.
func (l *lexer) peekIs(c byte) bool {
	return (l.pos < len(l.buf) || l.fill()) && l.buf[l.pos] == c
}

func (l *lexer) peekIsDigit() bool {
	return (l.pos < len(l.buf) || l.fill()) && l.buf[l.pos] >= '0' && l.buf[l.pos] <= '9'
}
