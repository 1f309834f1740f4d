// Package boundedread reads a body of unknown size into memory without
// letting a hostile sender make it cost more than a fixed bound: the
// response reader of the client and the webhook receiver both use it.
package boundedread

import (
	"errors"
	"io"
)

// maxPiece bounds the pieces ReadAll collects.
const maxPiece = 1 << 20

// ErrOverLimit is ReadAll's report of a body longer than its limit; the
// error itself is an [*OverLimitError].
var ErrOverLimit = errors.New("skyvern: body over the limit")

// OverLimitError is ReadAll's error for a body longer than its limit. It
// holds what was read, so that a caller may carry on elsewhere (spill the
// rest to disk) without losing the bytes already taken from the reader.
type OverLimitError struct {
	// Pieces are the bytes read, in order; together a little more than the
	// limit.
	Pieces [][]byte
}

// Error returns the text of [ErrOverLimit].
func (e *OverLimitError) Error() string { return ErrOverLimit.Error() }

// Is reports whether target is [ErrOverLimit], so that errors.Is matches
// the sentinel without the caller unwrapping the pieces.
func (e *OverLimitError) Is(target error) bool { return target == ErrOverLimit }

// ReadAll reads r to EOF, or fails with an [*OverLimitError] (matching
// [ErrOverLimit]) as soon as more than limit bytes have arrived; the caller
// should also bound r (io.LimitReader, http.MaxBytesReader) so no piece
// reads past the limit.
//
// A single buffer that doubles, as in io.ReadAll or bytes.Buffer, holds up
// to three times the body while it grows (old and new buffer during the
// copy, plus the garbage of every earlier size): 64 MiB of a hostile 100 MB
// response cost over 300 MB of heap that way. ReadAll collects pieces of at
// most 1 MiB and joins them once at the end, so a body that turns out too
// large has cost at most the limit plus one piece, and one that fits twice
// its size for the moment of the join. first sizes the first piece (a
// trusted length plus one, so that reading EOF needs no second piece).
func ReadAll(r io.Reader, first int, limit int64) ([]byte, error) {
	buf := make([]byte, 0, max(first, 512))
	var full [][]byte
	total := int64(0)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if total+int64(len(buf)) > limit {
			return nil, &OverLimitError{Pieces: append(full, buf)}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			full = append(full, buf)
			total += int64(len(buf))
			buf = make([]byte, 0, min(2*cap(buf), maxPiece))
		}
	}
	if len(full) == 0 {
		return buf, nil
	}
	out := make([]byte, 0, total+int64(len(buf)))
	for _, p := range full {
		out = append(out, p...)
	}
	return append(out, buf...), nil
}
