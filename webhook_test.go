package skyvern

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "sk_test_webhook_receiver_key"

func TestNewWebhookRejectsAnyEmptyKey(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"first empty":  {"", "sk_b"},
		"second empty": {"sk_a", ""},
		"third blank":  {"sk_a", "sk_b", "  "},
	}
	for name, keys := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wh, err := NewWebhook(keys[0], WithAdditionalKeys(keys[1:]...))
			assert.Nil(t, wh)
			assert.ErrorIs(t, err, ErrEmptyKey)
		})
	}
}

func TestWebhookKeyRotation(t *testing.T) {
	t.Parallel()
	body := []byte(`{"run_id":"wr_1","status":"completed"}`)
	const oldKey, newKey, otherKey = "sk_old_key", "sk_new_key", "sk_someone_else"
	wh := mustWebhook(t, newKey, WithAdditionalKeys(oldKey))
	for _, tc := range []struct {
		signer string
		ok     bool
	}{
		{newKey, true},
		{oldKey, true},
		{otherKey, false},
	} {
		err := wh.Verify(body, signedHeader(body, tc.signer, 0))
		if tc.ok {
			assert.NoError(t, err, tc.signer)
		} else {
			assert.ErrorIs(t, err, ErrInvalidSignature, tc.signer)
		}
	}
	// After the rotation ends, the old key no longer verifies.
	assert.ErrorIs(t, mustWebhook(t, newKey).Verify(body, signedHeader(body, oldKey, 0)), ErrInvalidSignature)
}

func TestWebhookHeaderLookupIgnoresCase(t *testing.T) {
	t.Parallel()
	assert.Equal(t, http.CanonicalHeaderKey(SignatureHeader), canonicalSignatureHeader)
	assert.Equal(t, http.CanonicalHeaderKey(TimestampHeader), canonicalTimestampHeader)
	body := []byte(`{"run_id":"tsk_1","status":"failed"}`)
	wh := mustWebhook(t, testKey)
	// A map filled by hand, not canonicalized by net/http.
	h := http.Header{SignatureHeader: {Sign(body, testKey)}}
	assert.NoError(t, wh.Verify(body, h))
	assert.ErrorIs(t, wh.Verify(body, http.Header{}), ErrMissingSignature)
	assert.ErrorIs(t, wh.Verify(body, nil), ErrMissingSignature)
	assert.ErrorIs(t, wh.Verify(body, http.Header{canonicalSignatureHeader: {}}), ErrMissingSignature)
	// A hand-made map may hold a key with no values under any spelling.
	assert.ErrorIs(t, wh.Verify(body, http.Header{SignatureHeader: {}}), ErrMissingSignature)
	assert.ErrorIs(t, wh.Verify(body, http.Header{SignatureHeader: {}, "x-other": {"v"}}), ErrMissingSignature)
}

func TestWebhookTimestampTolerance(t *testing.T) {
	t.Parallel()
	body := []byte(`{"run_id":"tsk_1","status":"completed"}`)
	now := time.Unix(1769873016, 0)
	base := mustWebhook(t, testKey)
	wh := mustWebhook(t, testKey, WithTolerance(5*time.Minute), WithClock(func() time.Time { return now }))
	sec := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }

	cases := []struct {
		name    string
		ts      *string // nil: header absent
		wantErr error
	}{
		{"now", Ptr(sec(0)), nil},
		{"just inside past", Ptr(sec(-5 * time.Minute)), nil},
		{"just inside future", Ptr(sec(5 * time.Minute)), nil},
		{"too old", Ptr(sec(-5*time.Minute - time.Second)), ErrTimestampOutOfTolerance},
		{"too far ahead", Ptr(sec(5*time.Minute + time.Second)), ErrTimestampOutOfTolerance},
		{"far future int64", Ptr("9223372036854775807"), ErrTimestampOutOfTolerance},
		{"epoch", Ptr("0"), ErrTimestampOutOfTolerance},
		{"missing", nil, ErrMissingTimestamp},
		{"empty", Ptr(""), ErrMissingTimestamp},
		{"letters", Ptr("yesterday"), ErrMalformedTimestamp},
		{"negative", Ptr("-1769873016"), ErrMalformedTimestamp},
		{"plus sign", Ptr("+1769873016"), ErrMalformedTimestamp},
		{"fraction", Ptr("1769873016.5"), ErrMalformedTimestamp},
		{"milliseconds overflow", Ptr("99999999999999999999"), ErrMalformedTimestamp},
		{"RFC 3339", Ptr("2026-01-31T15:23:36Z"), ErrMalformedTimestamp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			h.Set(SignatureHeader, Sign(body, testKey))
			if tc.ts != nil {
				h[canonicalTimestampHeader] = []string{*tc.ts}
			}
			err := wh.Verify(body, h)
			if tc.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantErr)
			}
			// The default verifier ignores the timestamp entirely.
			assert.NoError(t, base.Verify(body, h))
		})
	}
}

func TestWebhookSignatureCheckedBeforeTimestamp(t *testing.T) {
	t.Parallel()
	body := []byte(`{"run_id":"tsk_1","status":"completed"}`)
	wh := mustWebhook(t, testKey, WithTolerance(time.Minute))
	h := http.Header{}
	h.Set(SignatureHeader, Sign(body, "sk_forger"))
	assert.ErrorIs(t, wh.Verify(body, h), ErrInvalidSignature)
}

func TestNewWebhookOptions(t *testing.T) {
	t.Parallel()
	body := []byte(`{}`)
	h := http.Header{}
	h.Set(SignatureHeader, Sign(body, testKey))

	// Zero means off, nil options and a nil clock keep the defaults.
	for name, opts := range map[string][]WebhookOption{
		"none":           nil,
		"zero tolerance": {WithTolerance(0)},
		"nil option":     {nil},
		"nil clock":      {WithClock(nil)},
		"no extra keys":  {WithAdditionalKeys()},
	} {
		wh, err := NewWebhook(testKey, opts...)
		require.NoError(t, err, name)
		assert.NoError(t, wh.Verify(body, h), name)
		assert.NotNil(t, wh.now, name)
	}

	// Any positive tolerance turns the check on, however small.
	for _, d := range []time.Duration{time.Nanosecond, time.Minute} {
		strict := mustWebhook(t, testKey, WithTolerance(d))
		assert.ErrorIs(t, strict.Verify(body, h), ErrMissingTimestamp, d)
	}

	wh, err := NewWebhook(testKey, WithTolerance(-time.Second))
	assert.Nil(t, wh)
	assert.ErrorContains(t, err, "WithTolerance")

	// Keys from several options add up; the caller's slice is copied.
	more := []string{"sk_second"}
	wh = mustWebhook(t, testKey, WithAdditionalKeys(more...), WithAdditionalKeys("sk_third"))
	more[0] = "sk_changed"
	for _, key := range []string{testKey, "sk_second", "sk_third"} {
		assert.NoError(t, wh.Verify(body, signedHeader(body, key, 0)), key)
	}
	assert.ErrorIs(t, wh.Verify(body, signedHeader(body, "sk_changed", 0)), ErrInvalidSignature)
}

func TestParseVerifiesThenDecodes(t *testing.T) {
	t.Parallel()
	wh := mustWebhook(t, testKey)

	good := []byte(`{"run_id":"tsk_1","status":"completed","output":{"a":1}}`)
	p, err := wh.Parse(good, signedHeader(good, testKey, 0))
	require.NoError(t, err)
	assert.Equal(t, "tsk_1", p.RunID)
	assert.Equal(t, string(good), string(p.Raw))
	// Raw is a copy: the caller may reuse its buffer.
	good[2] = 'X'
	assert.Equal(t, byte('r'), p.Raw[2])

	forged := []byte(`{"run_id":"tsk_1","status":"completed"}`)
	_, err = wh.Parse(forged, signedHeader(forged, "sk_forger", 0))
	assert.ErrorIs(t, err, ErrInvalidSignature)

	broken := []byte(`{"run_id":`)
	_, err = wh.Parse(broken, signedHeader(broken, testKey, 0))
	assert.ErrorIs(t, err, ErrMalformedPayload)
	var pe *PayloadError
	require.ErrorAs(t, err, &pe)
}

func TestWebhookPrintsNoKeyMaterial(t *testing.T) {
	t.Parallel()
	const second = "sk_second_webhook_key"
	wh := mustWebhook(t, testKey, WithAdditionalKeys(second), WithTolerance(time.Minute))
	// What must never appear: the keys, and the pad states in the forms fmt
	// would print a []byte (decimal, hex, quoted).
	var secrets []string
	for _, k := range []string{testKey, second} {
		secrets = append(secrets, k, hex.EncodeToString([]byte(k)))
	}
	for _, k := range []string{testKey, second} {
		for _, st := range hmacPadStates(t, k) {
			h := st[4:36] // the chaining state after the format's magic
			secrets = append(secrets, strings.Trim(fmt.Sprint(h), "[]"), fmt.Sprintf("%x", h), fmt.Sprintf("%X", h),
				strings.Trim(fmt.Sprintf("%q", h), `"`), strings.Trim(fmt.Sprintf("%d", h), "[]"))
		}
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%p"} {
		if verb != "%p" {
			// A dereferenced copy has no methods of *Webhook; its keys
			// field must still print nothing secret.
			outputs = append(outputs, fmt.Sprintf(verb, *wh))
		}
		outputs = append(outputs, fmt.Sprintf(verb, wh), fmt.Sprintf(verb, []*Webhook{wh}),
			fmt.Sprintf(verb, struct{ W *Webhook }{wh}))
	}
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(h).Info("configured", "webhook", wh, "any", any(wh))
	}
	outputs = append(outputs, logs.String())
	for _, out := range outputs {
		for _, s := range secrets {
			require.NotContains(t, out, s)
		}
	}
	assert.Equal(t, "skyvern.Webhook{keys: 2, tolerance: 1m0s}", fmt.Sprintf("%+v", wh))
	assert.Equal(t, fmt.Sprintf("%v", wh), fmt.Sprintf("%#v", wh))
	assert.Contains(t, logs.String(), "webhook.keys=2")
	assert.Equal(t, "skyvern.Webhook(nil)", fmt.Sprint((*Webhook)(nil)))
}
