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
