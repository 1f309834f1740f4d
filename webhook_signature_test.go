package skyvern

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// webhookVectors mirrors testdata/webhook-vectors.json.
type webhookVectors struct {
	Vectors []struct {
		Key       string `json:"key"`
		Body      string `json:"body"`
		Signature string `json:"signature"`
	} `json:"vectors"`
	Verdicts []struct {
		Case      string  `json:"case"`
		Signature *string `json:"signature"`
		Accept    bool    `json:"accept"`
	} `json:"verdicts_for_first_vector"`
}

func loadVectors(t testing.TB) webhookVectors {
	t.Helper()
	data, err := os.ReadFile("testdata/webhook-vectors.json")
	require.NoError(t, err)
	var v webhookVectors
	require.NoError(t, json.Unmarshal(data, &v))
	require.Len(t, v.Vectors, 2)
	require.Len(t, v.Verdicts, 7)
	return v
}

func TestSignMatchesVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).Vectors {
		assert.Equal(t, v.Signature, Sign([]byte(v.Body), v.Key), "key %q", v.Key)
	}
}

func TestVerifyVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).Vectors {
		t.Run(v.Key, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, VerifySignature([]byte(v.Body), v.Signature, v.Key))
			wh, err := NewWebhook(v.Key)
			require.NoError(t, err)
			require.NoError(t, wh.Verify([]byte(v.Body), http.Header{canonicalSignatureHeader: {v.Signature}}))
		})
	}
}

func TestVerifyVerdicts(t *testing.T) {
	t.Parallel()
	vectors := loadVectors(t)
	first := vectors.Vectors[0]
	wh, err := NewWebhook(first.Key)
	require.NoError(t, err)
	for _, c := range vectors.Verdicts {
		t.Run(c.Case, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			sig := ""
			if c.Signature != nil {
				sig = *c.Signature
				h.Set(SignatureHeader, sig)
			}
			for name, err := range map[string]error{
				"VerifySignature": VerifySignature([]byte(first.Body), sig, first.Key),
				"Webhook.Verify":  wh.Verify([]byte(first.Body), h),
			} {
				if c.Accept {
					assert.NoError(t, err, name)
					continue
				}
				require.Error(t, err, name)
				if sig == "" {
					assert.ErrorIs(t, err, ErrMissingSignature, name)
				} else {
					assert.ErrorIs(t, err, ErrInvalidSignature, name)
				}
			}
		})
	}
}

// A verifier built with the empty key must never accept the signature an
// attacker computes with that same empty key.
func TestVerifyRefusesEmptyKey(t *testing.T) {
	t.Parallel()
	body := []byte(`{"run_id":"tsk_1","status":"completed","step_count":3}`)
	for _, key := range []string{"", " ", "\t\n"} {
		forged := Sign(body, key)
		assert.ErrorIs(t, VerifySignature(body, forged, key), ErrEmptyKey, "key %q", key)
		_, err := NewWebhook(key)
		assert.ErrorIs(t, err, ErrEmptyKey, "key %q", key)
	}
	var zero Webhook
	assert.ErrorIs(t, zero.Verify(body, http.Header{canonicalSignatureHeader: {Sign(body, "")}}), ErrEmptyKey)
	var nilHook *Webhook
	assert.ErrorIs(t, nilHook.Verify(body, nil), ErrEmptyKey)
}

// Skyvern signs the exact bytes it sends. Decoding and re-encoding the body
// (here with encoding/json, which escapes HTML and reorders nothing but
// still changes bytes) breaks the signature: verification must use the raw
// body.
func TestVerifyRejectsReserializedBody(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).Vectors[1]
	var decoded map[string]any
	require.NoError(t, json.Unmarshal([]byte(v.Body), &decoded))
	reencoded, err := json.Marshal(decoded)
	require.NoError(t, err)
	require.NotEqual(t, v.Body, string(reencoded))

	require.NoError(t, VerifySignature([]byte(v.Body), v.Signature, v.Key))
	assert.ErrorIs(t, VerifySignature(reencoded, v.Signature, v.Key), ErrInvalidSignature)
	wh, err := NewWebhook(v.Key)
	require.NoError(t, err)
	assert.ErrorIs(t, wh.Verify(reencoded, http.Header{canonicalSignatureHeader: {v.Signature}}), ErrInvalidSignature)
}

func TestVerifyRejectsMalformedSignatures(t *testing.T) {
	t.Parallel()
	const key = "sk_docs_snippet_test_key"
	body := []byte(`{"run_id":"tsk_1","status":"completed","step_count":3}`)
	good := Sign(body, key)
	cases := map[string]string{
		"uppercase":         strings.ToUpper(good),
		"one uppercase":     upperFirstLetter(good),
		"v0 prefix":         "v0=" + good,
		"sha256 prefix":     "sha256=" + good,
		"leading space":     " " + good,
		"trailing newline":  good + "\n",
		"too short":         good[:62],
		"too long":          good + "00",
		"odd length":        good[:63],
		"non hex":           "g" + good[1:],
		"NUL":               "\x00" + good[1:],
		"non ASCII":         "é" + good[2:],
		"base64 of the MAC": "YJ4DZKku08yXUzvMG1PD94t317d4LF8MnxyfkqVV2HU=",
		"two signatures":    good + "," + good,
	}
	wh, err := NewWebhook(key)
	require.NoError(t, err)
	for name, sig := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := VerifySignature(body, sig, key)
			assert.ErrorIs(t, err, ErrMalformedSignature)
			assert.ErrorIs(t, err, ErrInvalidSignature)
			assert.NotErrorIs(t, err, ErrMissingSignature)
			assert.ErrorIs(t, wh.Verify(body, http.Header{canonicalSignatureHeader: {sig}}), ErrMalformedSignature)
		})
	}
}

func TestSignatureErrorsDoNotLeakKey(t *testing.T) {
	t.Parallel()
	const key = "sk_secret_value_that_must_not_leak"
	body := []byte(`{}`)
	errs := []error{
		VerifySignature(body, "", key),
		VerifySignature(body, "zz", key),
		VerifySignature(body, Sign(body, "other"), key),
	}
	_, err := NewWebhook(key, WithAdditionalKeys(""))
	errs = append(errs, err)
	for _, err := range errs {
		require.Error(t, err)
		assert.NotContains(t, err.Error(), key)
	}
}

func TestVerifyLongKey(t *testing.T) {
	t.Parallel()
	// Keys longer than the SHA-256 block are hashed first, as HMAC requires;
	// a key of exactly one block is used as it is. Sign uses crypto/hmac,
	// the reference for both.
	body := bytes.Repeat([]byte("x"), 1000)
	for _, n := range []int{63, 64, 65, 200} {
		key := strings.Repeat("k", n)
		wh, err := NewWebhook(key)
		require.NoError(t, err)
		require.NoError(t, wh.Verify(body, http.Header{canonicalSignatureHeader: {Sign(body, key)}}), "key of %d bytes", n)
		require.NoError(t, VerifySignature(body, Sign(body, key), key), "key of %d bytes", n)
		assert.True(t, errors.Is(wh.Verify(body, http.Header{canonicalSignatureHeader: {Sign(body, key[1:])}}), ErrInvalidSignature))
	}
}

// upperFirstLetter upper-cases the first hex letter of sig, keeping the MAC
// bytes the same.
func upperFirstLetter(sig string) string {
	i := strings.IndexAny(sig, "abcdef")
	return sig[:i] + strings.ToUpper(sig[i:i+1]) + sig[i+1:]
}

// Signatures that differ from the genuine one in a single hex digit, at
// every position: a comparison that stops early (or checks only a prefix,
// say the first 16 bytes) accepts the ones that differ at the end.
func TestVerifyRejectsEveryOneDigitChange(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).Vectors {
		single, err := NewWebhook(v.Key)
		require.NoError(t, err)
		// The genuine key second, so the loop over keys is exercised too.
		rotated, err := NewWebhook("sk_other_key", WithAdditionalKeys(v.Key))
		require.NoError(t, err)
		body := []byte(v.Body)
		for i := len(v.Signature) - 1; i >= 0; i-- {
			for _, c := range []byte{'0', 'f'} {
				if v.Signature[i] == c {
					c = '7'
				}
				sig := v.Signature[:i] + string(c) + v.Signature[i+1:]
				h := http.Header{canonicalSignatureHeader: {sig}}
				require.ErrorIs(t, VerifySignature(body, sig, v.Key), ErrInvalidSignature, "digit %d", i)
				require.ErrorIs(t, single.Verify(body, h), ErrInvalidSignature, "digit %d", i)
				require.ErrorIs(t, rotated.Verify(body, h), ErrInvalidSignature, "digit %d", i)
			}
		}
		// And the genuine signature still passes through all three.
		h := http.Header{canonicalSignatureHeader: {v.Signature}}
		require.NoError(t, VerifySignature(body, v.Signature, v.Key))
		require.NoError(t, single.Verify(body, h))
		require.NoError(t, rotated.Verify(body, h))
	}
}

// The files that decide on a MAC, as they were compiled into this test
// (embedded rather than read at run time, so a build with -overlay is
// checked too): the one-shot check here, and the prepared keys' check that
// Webhook.Verify and the streaming receiver use.
var (
	//go:embed webhook_signature.go
	signatureSource []byte
	//go:embed internal/hmacpad/hmacpad.go
	hmacpadSource []byte
)

// Replacing hmac.Equal with == or bytes.Equal changes no verdict, only the
// timing, so no functional test can see it. This test pins the comparison
// in the source instead: the functions that decide on a MAC must compare
// through hmac.Equal or subtle.ConstantTimeCompare, on whole MACs, and
// compare nothing else with == or != except against nil.
func TestMACComparisonIsConstantTime(t *testing.T) {
	t.Parallel()
	for _, file := range []struct {
		name     string
		src      []byte
		deciders []string
	}{
		{"webhook_signature.go", signatureSource, []string{"VerifySignature"}},
		// Key.Matches and the streaming check both decide in Key.End.
		{"internal/hmacpad/hmacpad.go", hmacpadSource, []string{"End"}},
	} {
		t.Run(file.name, func(t *testing.T) {
			t.Parallel()
			checkConstantTimeDeciders(t, file.name, file.src, file.deciders)
		})
	}
}

// checkConstantTimeDeciders parses src and checks the functions named in
// deciders as TestMACComparisonIsConstantTime describes.
func checkConstantTimeDeciders(t *testing.T, name string, src []byte, names []string) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	require.NoError(t, err)
	deciders := map[string]bool{}
	for _, n := range names {
		deciders[n] = false
	}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		if _, wanted := deciders[fn.Name.Name]; !wanted {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				name := calleeName(n)
				switch name {
				case "hmac.Equal", "subtle.ConstantTimeCompare":
					deciders[fn.Name.Name] = true
					for _, arg := range n.Args {
						if s, ok := arg.(*ast.SliceExpr); ok {
							assert.True(t, s.Low == nil && s.High == nil,
								"%s: %s compares part of a MAC", fset.Position(arg.Pos()), name)
						}
					}
				case "bytes.Equal", "bytes.Compare", "strings.Compare", "strings.EqualFold", "reflect.DeepEqual":
					t.Errorf("%s: %s: %s is not constant time", fset.Position(n.Pos()), fn.Name.Name, name)
				}
			case *ast.BinaryExpr:
				if n.Op == token.EQL || n.Op == token.NEQ {
					assert.True(t, isNil(n.X) || isNil(n.Y),
						"%s: %s compares with %s; only comparisons with nil are allowed", fset.Position(n.Pos()), fn.Name.Name, n.Op)
				}
			}
			return true
		})
	}
	for name, found := range deciders {
		assert.True(t, found, "%s must decide with hmac.Equal or subtle.ConstantTimeCompare", name)
	}
}

func calleeName(call *ast.CallExpr) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if pkg, ok := sel.X.(*ast.Ident); ok {
		return pkg.Name + "." + sel.Sel.Name
	}
	return ""
}

func isNil(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "nil"
}
