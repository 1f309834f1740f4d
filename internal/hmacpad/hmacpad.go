// Package hmacpad checks HMAC-SHA256 tags with keys prepared once: a [Key]
// holds the SHA-256 states reached after absorbing the HMAC inner and outer
// pads, so that a check costs one pass over the message plus one
// compression, with no per-call key setup, and a [Pool] of scratch space
// makes a check allocate nothing. The webhook verifier of the root package
// is built on it; the signature scheme itself (header, hex form, errors)
// stays there.
package hmacpad

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
)

// Size is the length in bytes of an HMAC-SHA256 tag.
const Size = sha256.Size

// Key holds one key as the SHA-256 states after its inner and outer pads.
// Build one with [NewKey]; it is immutable and safe for concurrent use.
//
// The states are as good as the key for forging tags, so they sit one
// pointer further away: fmt prints a pointer it reaches inside a value as
// an address, so neither a struct holding a *Key nor a copied Key shows
// them, and a *Key printed directly goes through [Key.Format].
type Key struct {
	pads *pads
}

type pads struct {
	inner, outer []byte // marshaled sha256 states
}

// NewKey prepares key for checking tags. Keys longer than the SHA-256 block
// are hashed first, as HMAC requires. The error reports a sha256 whose
// state cannot be saved, which the standard library's never is.
func NewKey(key string) (*Key, error) {
	k := []byte(key)
	if len(k) > sha256.BlockSize {
		sum := sha256.Sum256(k)
		k = sum[:]
	}
	var ipad, opad [sha256.BlockSize]byte
	copy(ipad[:], k)
	copy(opad[:], k)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	inner, err := padState(ipad[:])
	if err != nil {
		return nil, err
	}
	outer, err := padState(opad[:])
	if err != nil {
		return nil, err
	}
	return &Key{pads: &pads{inner: inner, outer: outer}}, nil
}

func padState(pad []byte) ([]byte, error) {
	h := sha256.New()
	h.Write(pad)
	m, ok := h.(interface {
		encoding.BinaryMarshaler
		encoding.BinaryUnmarshaler
	})
	if !ok {
		return nil, errors.New("skyvern: sha256 state cannot be saved")
	}
	return m.MarshalBinary()
}

// Format implements [fmt.Formatter]: every verb prints the type's name
// alone, so no verb reaches the pad states.
func (k *Key) Format(f fmt.State, verb rune) { redacted(f, verb, "hmacpad.Key") }

// LogValue implements [slog.LogValuer]: a Key logs as its type's name.
func (k *Key) LogValue() slog.Value { return slog.StringValue("hmacpad.Key") }

// Scratch is the working set of one check, taken from a [Pool] by
// [Key.Begin] and given back with [Pool.Put] after [Key.End]. Between the
// two it accepts the message through Write.
type Scratch struct {
	h     hash.Hash
	state encoding.BinaryUnmarshaler
	sum   [Size]byte
	ok    bool // the inner state was loaded
}

// Write feeds p to the check. It never fails.
func (s *Scratch) Write(p []byte) (int, error) { return s.h.Write(p) }

// Format implements [fmt.Formatter]: every verb prints the type's name
// alone. Between Begin and End the hash holds the inner pad state, and
// after End the sum holds the genuine tag of whatever was written: neither
// may print.
func (s *Scratch) Format(f fmt.State, verb rune) { redacted(f, verb, "hmacpad.Scratch") }

// LogValue implements [slog.LogValuer]: a Scratch logs as its type's name.
func (s *Scratch) LogValue() slog.Value { return slog.StringValue("hmacpad.Scratch") }

func redacted(f fmt.State, verb rune, name string) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", name)
		return
	}
	_, _ = io.WriteString(f, name)
}

// Pool hands out scratch space for checks, so that a check allocates
// nothing once the pool is warm. Build one with [NewPool]; it is safe for
// concurrent use and may serve any number of keys.
type Pool struct{ p sync.Pool }

// NewPool returns an empty [Pool].
func NewPool() *Pool {
	mp := &Pool{}
	mp.p.New = func() any {
		h := sha256.New()
		u, _ := h.(encoding.BinaryUnmarshaler) // checked by padState in NewKey
		return &Scratch{h: h, state: u}
	}
	return mp
}

// Put gives s back to p. s must not be used afterwards.
func (p *Pool) Put(s *Scratch) { p.p.Put(s) }

// Matches reports whether want is the HMAC-SHA256 of msg under k, comparing
// in constant time, with scratch space from p.
func (k *Key) Matches(p *Pool, msg []byte, want *[Size]byte) bool {
	s := k.Begin(p)
	defer p.Put(s)
	s.h.Write(msg)
	return k.End(s, want)
}

// Begin takes scratch space from p, ready to hash a message under k; write
// the message to it, finish with [Key.End], then give it back with
// [Pool.Put].
func (k *Key) Begin(p *Pool) *Scratch {
	s := p.p.Get().(*Scratch)
	// The state was marshaled by this package's sha256, so it unmarshals;
	// were it not to, s.ok makes End fail closed.
	s.ok = s.state.UnmarshalBinary(k.pads.inner) == nil
	return s
}

// End reports whether want is the HMAC under k of what was written to s
// since [Key.Begin], comparing in constant time.
func (k *Key) End(s *Scratch, want *[Size]byte) bool {
	if !s.ok {
		return false
	}
	inner := s.h.Sum(s.sum[:0])
	if s.state.UnmarshalBinary(k.pads.outer) != nil {
		return false
	}
	s.h.Write(inner)
	return hmac.Equal(s.h.Sum(s.sum[:0]), want[:])
}
