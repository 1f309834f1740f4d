// Package jsonspan walks the members of a JSON object that is too large to
// hold in memory. It validates the whole document as it streams through it,
// keeps the small members' bytes, and reports where each large value lies,
// so that a caller can decode the small part and read the large values
// later from the same bytes.
//
// encoding/json cannot do this: its Decoder buffers a whole token, so one
// 100 MB string costs 100 MB however it is skipped.
package jsonspan

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// maxDepth bounds nesting, as encoding/json does, so that a hostile
// document cannot exhaust the stack.
const maxDepth = 10000

// maxKey bounds a member name; Skyvern's are short identifiers.
const maxKey = 4 << 10

// Span is a large member: its name and where its value lies.
type Span struct {
	Name   string
	Offset int64 // of the value's first byte
	Length int64
}

// SyntaxError reports a document that is not a JSON object.
type SyntaxError struct {
	Offset int64 // of the byte at fault
	Msg    string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Result is what Members found.
type Result struct {
	// Small is a JSON object holding the members kept in memory, in
	// document order.
	Small []byte
	// Large lists the other members in document order.
	Large []Span
}

// Members reads one JSON object from r and splits its members: a member
// whose value is at most maxValue bytes is kept in Small while the kept
// bytes stay within budget; every other member is reported as a Span. When
// a name occurs twice, the last occurrence wins, as in encoding/json.
//
// Errors are a *SyntaxError for an invalid document, or r's error.
func Members(r io.Reader, budget, maxValue int) (*Result, error) {
	s := &scanner{r: bufio.NewReaderSize(r, 64<<10)}
	if err := s.skipSpace(); err != nil {
		return nil, err
	}
	if err := s.expect('{', "the document is not an object"); err != nil {
		return nil, err
	}
	type member struct {
		key   []byte // quoted, as written
		value []byte
	}
	var (
		small []member
		large []Span
		seen  = map[string]bool{}
	)
	drop := func(name string) {
		if !seen[name] {
			return
		}
		for i := range small {
			if n, _ := unquote(small[i].key); n == name {
				small = append(small[:i], small[i+1:]...)
				break
			}
		}
		for i := range large {
			if large[i].Name == name {
				large = append(large[:i], large[i+1:]...)
				break
			}
		}
	}
	left := budget
	for first := true; ; first = false {
		if err := s.skipSpace(); err != nil {
			return nil, err
		}
		c, err := s.peek()
		if err != nil {
			return nil, err
		}
		if c == '}' && first {
			s.take(1)
			break
		}
		s.keep(maxKey)
		if c != '"' {
			return nil, s.fail("want a member name")
		}
		s.take(1)
		if err := s.skipString(); err != nil {
			return nil, err
		}
		key, over := s.kept()
		if over {
			return nil, s.fail("member name too long")
		}
		name, err := unquote(key)
		if err != nil {
			return nil, s.fail("bad member name")
		}
		if err := s.skipSpace(); err != nil {
			return nil, err
		}
		if err := s.expect(':', "want ':' after a member name"); err != nil {
			return nil, err
		}
		if err := s.skipSpace(); err != nil {
			return nil, err
		}
		start := s.off
		s.keep(max(min(maxValue, left-len(key)-2), 0))
		if err := s.value(0); err != nil {
			return nil, err
		}
		value, over := s.kept()
		drop(name)
		seen[name] = true
		if over {
			large = append(large, Span{Name: name, Offset: start, Length: s.off - start})
		} else {
			small = append(small, member{key: key, value: value})
			left -= len(key) + len(value) + 2
		}
		if err := s.skipSpace(); err != nil {
			return nil, err
		}
		c, err = s.next()
		if err != nil {
			return nil, err
		}
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, s.fail("want ',' or '}' after a member")
		}
	}
	if err := s.skipSpace(); err != nil {
		return nil, err
	}
	if _, err := s.peek(); err != io.ErrUnexpectedEOF {
		if err != nil {
			return nil, err
		}
		return nil, s.fail("data after the object")
	}
	size := 2
	for _, m := range small {
		size += len(m.key) + len(m.value) + 2
	}
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, m := range small {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(append(out, m.key...), ':'), m.value...)
	}
	return &Result{Small: append(out, '}'), Large: large}, nil
}

// unquote decodes a member name written as a JSON string.
func unquote(quoted []byte) (string, error) {
	var s string
	err := json.Unmarshal(quoted, &s)
	return s, err
}

// scanner reads a document byte by byte (strings in bulk), keeping the
// bytes of the current value while they fit.
type scanner struct {
	r       *bufio.Reader
	off     int64 // of the next byte
	keeping bool
	limit   int
	buf     []byte
	over    bool
}

func (s *scanner) fail(msg string) error { return &SyntaxError{Offset: s.off, Msg: msg} }

// keep starts keeping the bytes that follow, up to limit of them.
func (s *scanner) keep(limit int) {
	s.keeping, s.limit, s.buf, s.over = true, limit, nil, false
}

// kept stops keeping and returns the bytes kept, and whether there were
// more than the limit (then the bytes are incomplete).
func (s *scanner) kept() ([]byte, bool) {
	b, over := s.buf, s.over
	s.keeping, s.buf, s.over = false, nil, false
	if over {
		return nil, true
	}
	return b, false
}

// record notes that b was consumed.
func (s *scanner) record(b []byte) {
	s.off += int64(len(b))
	if !s.keeping || s.over {
		return
	}
	if len(s.buf)+len(b) > s.limit {
		s.over, s.buf = true, nil
		return
	}
	s.buf = append(s.buf, b...)
}

// peek returns the next byte without consuming it; the end of the input is
// io.ErrUnexpectedEOF.
func (s *scanner) peek() (byte, error) {
	b, err := s.r.Peek(1)
	if len(b) == 0 {
		if err == io.EOF {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, err
	}
	return b[0], nil
}

// take consumes n bytes that peek has seen to be buffered.
func (s *scanner) take(n int) {
	b, _ := s.r.Peek(n)
	s.record(b)
	_, _ = s.r.Discard(n)
}

func (s *scanner) next() (byte, error) {
	c, err := s.peek()
	if err != nil {
		return 0, err
	}
	s.take(1)
	return c, nil
}

// expect consumes the next byte, which must be want.
func (s *scanner) expect(want byte, msg string) error {
	c, err := s.next()
	if err != nil {
		return err
	}
	if c != want {
		return s.fail(msg)
	}
	return nil
}

// skipSpace consumes JSON whitespace. The end of the input is not an error
// here; the caller's next peek reports it.
func (s *scanner) skipSpace() error {
	for {
		c, err := s.peek()
		if err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return nil
		}
		s.take(1)
	}
}

// value consumes one value, which starts at the next byte.
func (s *scanner) value(depth int) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	switch {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return s.fail("nested too deeply")
		}
		s.take(1)
		return s.container(c, depth+1)
	case c == '"':
		s.take(1)
		return s.skipString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || isDigit(c):
		return s.number()
	}
	return s.fail(fmt.Sprintf("unexpected %q", c))
}

// container consumes the rest of an object or array whose opening bracket
// was consumed.
func (s *scanner) container(open byte, depth int) error {
	closing := byte(']')
	if open == '{' {
		closing = '}'
	}
	for first := true; ; first = false {
		if err := s.skipSpace(); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		if c == closing && first {
			s.take(1)
			return nil
		}
		if open == '{' {
			if c != '"' {
				return s.fail("want a member name")
			}
			s.take(1)
			if err := s.skipString(); err != nil {
				return err
			}
			if err := s.skipSpace(); err != nil {
				return err
			}
			if err := s.expect(':', "want ':' after a member name"); err != nil {
				return err
			}
			if err := s.skipSpace(); err != nil {
				return err
			}
		}
		if err := s.value(depth); err != nil {
			return err
		}
		if err := s.skipSpace(); err != nil {
			return err
		}
		c, err = s.next()
		if err != nil {
			return err
		}
		if c == closing {
			return nil
		}
		if c != ',' {
			return s.fail(fmt.Sprintf("want ',' or %q", closing))
		}
	}
}

// skipString consumes the rest of a string whose opening quote was
// consumed, taking plain runs of bytes in bulk.
func (s *scanner) skipString() error {
	for {
		if _, err := s.peek(); err != nil {
			return err
		}
		buf, _ := s.r.Peek(s.r.Buffered())
		i := plainPrefix(buf)
		s.take(i)
		if i == len(buf) {
			continue
		}
		switch c, _ := s.next(); {
		case c == '"':
			return nil
		case c < 0x20:
			return s.fail("control character in a string")
		}
		// A backslash: one escape follows.
		c, err := s.next()
		if err != nil {
			return err
		}
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			for range 4 {
				h, err := s.next()
				if err != nil {
					return err
				}
				if !isHex(h) {
					return s.fail("bad \\u escape")
				}
			}
		default:
			return s.fail("bad escape")
		}
	}
}

func (s *scanner) literal(word string) error {
	for i := range len(word) {
		c, err := s.next()
		if err != nil {
			return err
		}
		if c != word[i] {
			return s.fail("bad literal")
		}
	}
	return nil
}

// number consumes -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() error {
	c, _ := s.peek()
	if c == '-' {
		s.take(1)
	}
	c, err := s.next()
	if err != nil {
		return err
	}
	if !isDigit(c) {
		return s.fail("bad number")
	}
	if c != '0' {
		if err := s.digits(false); err != nil {
			return err
		}
	}
	if c, err := s.peek(); err == nil && c == '.' {
		s.take(1)
		if err := s.digits(true); err != nil {
			return err
		}
	}
	if c, err := s.peek(); err == nil && (c == 'e' || c == 'E') {
		s.take(1)
		if c, err := s.peek(); err == nil && (c == '+' || c == '-') {
			s.take(1)
		}
		if err := s.digits(true); err != nil {
			return err
		}
	}
	return nil
}

// digits consumes a run of digits; one at least if required. The end of
// the input ends the run.
func (s *scanner) digits(required bool) error {
	n := 0
	for {
		c, err := s.peek()
		if err == io.ErrUnexpectedEOF || (err == nil && !isDigit(c)) {
			break
		}
		if err != nil {
			return err
		}
		s.take(1)
		n++
	}
	if required && n == 0 {
		return s.fail("bad number")
	}
	return nil
}

// plainPrefix returns the length of the run at the start of b that holds
// no quote, backslash or control character: the bytes a string takes
// as they are. It tests eight bytes at a time, which matters for strings
// of many megabytes (several times faster, and far more under the race
// detector, which instruments every load).
func plainPrefix(b []byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		quote := w ^ (ones * '"')
		backslash := w ^ (ones * '\\')
		// A byte of the word is zero, or below 0x20, exactly when its
		// high bit survives these (the classic "has zero byte" tests).
		special := (quote-ones)&^quote | (backslash-ones)&^backslash | (w-ones*0x20)&^w
		if special&highs != 0 {
			break
		}
	}
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
