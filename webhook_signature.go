package skyvern

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"hash"
	"sync"
)

// Header names Skyvern sets on every webhook delivery.
const (
	// SignatureHeader carries the lowercase hex HMAC-SHA256 of the raw body,
	// keyed with the API key that created the run.
	SignatureHeader = "x-skyvern-signature"
	// TimestampHeader carries the Unix time (seconds) of the delivery. It is
	// not covered by the signature.
	TimestampHeader = "x-skyvern-timestamp"
)

// Sign returns the signature Skyvern would send for body: the lowercase hex
// HMAC-SHA256 of the exact bytes, keyed with apiKey. It is exported so that
// tests can build genuine deliveries.
func Sign(body []byte, apiKey string) string {
	mac := hmac.New(sha256.New, []byte(apiKey))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether signature is the Skyvern signature of body
// under apiKey, comparing MACs in constant time. body must be the raw bytes
// received: a body that was decoded and encoded again differs from what
// Skyvern signed and fails.
//
// Only the form Skyvern sends is accepted: exactly 64 lowercase hex
// characters, no prefix and no surrounding space. An uppercase signature is
// rejected with ErrMalformedSignature, so each body has exactly one accepted
// signature string.
//
// The error is nil, or matches ErrEmptyKey, ErrMissingSignature or
// ErrInvalidSignature. Use a Webhook to verify many deliveries: it prepares
// the keys once and does not allocate per call.
func VerifySignature(body []byte, signature, apiKey string) error {
	if isBlank(apiKey) {
		return ErrEmptyKey
	}
	want, err := decodeSignature(signature)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(apiKey))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), want[:]) {
		return ErrInvalidSignature
	}
	return nil
}

// decodeSignature turns the header value into the 32 MAC bytes, accepting
// only lowercase hex. The time it takes depends on the attacker's own input
// only, never on the key.
func decodeSignature(s string) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	if s == "" {
		return out, ErrMissingSignature
	}
	if len(s) != 2*sha256.Size {
		return out, ErrMalformedSignature
	}
	for i := 0; i < sha256.Size; i++ {
		hi, ok1 := lowerHexNibble(s[2*i])
		lo, ok2 := lowerHexNibble(s[2*i+1])
		if !ok1 || !ok2 {
			return out, ErrMalformedSignature
		}
		out[i] = hi<<4 | lo
	}
	return out, nil
}

func lowerHexNibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// macKey holds one API key as the SHA-256 states reached after absorbing the
// HMAC inner and outer pads, so that a verification costs one pass over the
// body plus one compression, with no per-call key setup.
//
// The states are as good as the key for forging signatures, so they sit two
// pointers away from a Webhook: fmt prints a pointer it reaches inside a
// value as an address, and when a verb does not fit it prints the value
// again with %v, which again shows the next pointer as an address.
type macKey struct {
	pads *macPads
}

type macPads struct {
	inner, outer []byte // marshaled sha256 states
}

func newMACKey(key string) (*macKey, error) {
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
	return &macKey{pads: &macPads{inner: inner, outer: outer}}, nil
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

// macScratch is the per-call working set, pooled so that a verification
// allocates nothing.
type macScratch struct {
	h     hash.Hash
	state encoding.BinaryUnmarshaler
	sum   [sha256.Size]byte
	ok    bool // the inner state was loaded
}

// macPool hands out scratch space for signature checks.
type macPool struct{ p sync.Pool }

func newMACPool() *macPool {
	mp := &macPool{}
	mp.p.New = func() any {
		h := sha256.New()
		u, _ := h.(encoding.BinaryUnmarshaler) // checked by padState at construction
		return &macScratch{h: h, state: u}
	}
	return mp
}

// matches reports whether want is the HMAC-SHA256 of body under k.
func (k *macKey) matches(mp *macPool, body []byte, want *[sha256.Size]byte) bool {
	s := k.begin(mp)
	defer mp.p.Put(s)
	s.h.Write(body)
	return k.end(s, want)
}

// begin takes scratch space from mp, ready to hash a body under k; give it
// back to mp after end.
func (k *macKey) begin(mp *macPool) *macScratch {
	s := mp.p.Get().(*macScratch)
	// The state was marshaled by this package's sha256, so it unmarshals;
	// were it not to, s.ok makes end fail closed.
	s.ok = s.state.UnmarshalBinary(k.pads.inner) == nil
	return s
}

// end reports whether want is the HMAC under k of what was written to s.
func (k *macKey) end(s *macScratch, want *[sha256.Size]byte) bool {
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
