package skyvern

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
