package hmacpad

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "sk_hmacpad_test_key"

// tag is the reference HMAC-SHA256 from crypto/hmac.
func tag(key string, msg []byte) *[Size]byte {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(msg)
	var out [Size]byte
	copy(out[:], mac.Sum(nil))
	return &out
}

func mustKey(t *testing.T, key string) *Key {
	t.Helper()
	k, err := NewKey(key)
	require.NoError(t, err)
	return k
}

// Keys around the SHA-256 block size (longer ones are hashed first), checked
// whole and streamed in pieces, against crypto/hmac.
func TestKeyAgreesWithCryptoHMAC(t *testing.T) {
	t.Parallel()
	pool := NewPool()
	msg := bytes.Repeat([]byte("0123456789"), 300)
	for _, n := range []int{1, 63, 64, 65, 200} {
		key := strings.Repeat("k", n)
		k := mustKey(t, key)
		want := tag(key, msg)
		assert.True(t, k.Matches(pool, msg, want), "key of %d bytes", n)
		assert.False(t, k.Matches(pool, msg, tag(key[1:], msg)), "key of %d bytes, other key's tag", n)
		assert.False(t, k.Matches(pool, msg[1:], want), "key of %d bytes, other message", n)

		s := k.Begin(pool)
		for rest := msg; len(rest) > 0; {
			piece := min(len(rest), 777)
			written, err := s.Write(rest[:piece])
			require.NoError(t, err)
			require.Equal(t, piece, written)
			rest = rest[piece:]
		}
		assert.True(t, k.End(s, want), "key of %d bytes, streamed", n)
		pool.Put(s)
	}
}

// Scratch space taken under one key and given back must not carry that key
// into the next check under another.
func TestPoolServesSeveralKeys(t *testing.T) {
	t.Parallel()
	pool := NewPool()
	a, b := mustKey(t, "sk_a"), mustKey(t, "sk_b")
	msg := []byte(`{"run_id":"tsk_1"}`)
	for range 3 {
		assert.True(t, a.Matches(pool, msg, tag("sk_a", msg)))
		assert.False(t, a.Matches(pool, msg, tag("sk_b", msg)))
		assert.True(t, b.Matches(pool, msg, tag("sk_b", msg)))
	}
}

// A key whose saved hash state cannot be restored must refuse, never accept:
// the state is checked at construction, so this guards the fallback alone.
func TestKeyWithUnusableStateRefuses(t *testing.T) {
	t.Parallel()
	msg := []byte(`{"run_id":"tsk_1"}`)
	good := mustKey(t, testKey)
	want := tag(testKey, msg)
	pool := NewPool()
	require.True(t, good.Matches(pool, msg, want))
	for name, k := range map[string]*Key{
		"inner": {pads: &pads{inner: []byte("not a state"), outer: good.pads.outer}},
		"outer": {pads: &pads{inner: good.pads.inner, outer: []byte("not a state")}},
	} {
		assert.False(t, k.Matches(pool, msg, want), name)
	}
	// The pooled scratch space still works after a refusal.
	assert.True(t, good.Matches(pool, msg, want))
}

type holder struct{ k *Key }

// Neither a Key nor scratch space in use may print what forges tags: the
// pad states, or the genuine tag of a message a forger sent.
func TestNothingPrintsKeyMaterial(t *testing.T) {
	t.Parallel()
	k := mustKey(t, testKey)
	pool := NewPool()
	msg := []byte(`{"run_id":"tsk_forged"}`)
	genuine := tag(testKey, msg)
	s := k.Begin(pool)
	_, _ = s.Write(msg)
	require.False(t, k.End(s, &[Size]byte{})) // s now holds the genuine tag
	defer pool.Put(s)

	var secrets []string
	for _, b := range [][]byte{[]byte(testKey), k.pads.inner[4:36], k.pads.outer[4:36], genuine[:]} {
		secrets = append(secrets, string(b), hex.EncodeToString(b), fmt.Sprintf("%X", b),
			strings.Trim(fmt.Sprint(b), "[]"), strings.Trim(fmt.Sprintf("%q", b), `"`))
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%p"} {
		// holder is what the root package's Webhook is to a Key: a value
		// (maybe copied) that keeps the *Key in an unexported field, where
		// fmt calls no method and must stop at an address.
		for _, v := range []any{k, s, []*Key{k}, struct{ K *Key }{k}, struct{ S *Scratch }{s}, holder{k}, []holder{{k}}} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
	}
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(h).Info("state", "key", k, "scratch", s)
	}
	outputs = append(outputs, logs.String())
	for _, out := range outputs {
		for _, secret := range secrets {
			require.NotContains(t, out, secret)
		}
	}
	assert.Equal(t, "hmacpad.Key", fmt.Sprintf("%+v", k))
	assert.Equal(t, `"hmacpad.Scratch"`, fmt.Sprintf("%q", s))
	assert.Contains(t, logs.String(), "key=hmacpad.Key")
}
