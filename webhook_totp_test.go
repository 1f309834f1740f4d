package skyvern

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func totpDelivery(body []byte, key string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/skyvern/totp", bytes.NewReader(body))
	for k, v := range signedHeader(body, key, 1769873016) {
		r.Header[k] = v
	}
	return r
}

func TestTOTPHandlerAnswersWithCode(t *testing.T) {
	t.Parallel()
	var got *TOTPRequest
	h := mustWebhook(t, testKey).TOTPHandler(func(_ context.Context, req *TOTPRequest) (string, error) {
		got = req
		return "123456", nil
	})
	// The body exactly as the server builds it: compact, only the ids the
	// run has.
	body := []byte(`{"task_id":"tsk_1","workflow_run_id":"wr_2","workflow_permanent_id":"wpid_3"}`)
	rec := serve(h, totpDelivery(body, testKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))

	want := &TOTPRequest{TaskID: "tsk_1", WorkflowRunID: "wr_2", WorkflowPermanentID: "wpid_3", Raw: body}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request mismatch (-want +got):\n%s", diff)
	}
	var resp map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	assert.Equal(t, map[string]any{
		"task_id":               "tsk_1",
		"workflow_run_id":       "wr_2",
		"workflow_permanent_id": "wpid_3",
		"verification_code":     "123456",
	}, resp)
}

func TestTOTPHandlerStatusCodes(t *testing.T) {
	t.Parallel()
	good := []byte(`{"task_id":"tsk_1"}`)
	cases := []struct {
		name     string
		req      func() *http.Request
		code     string
		err      error
		opts     []HandlerOption
		wantCode int
		wantBody string
		wantCall bool
	}{
		{name: "no code yet", req: func() *http.Request { return totpDelivery(good, testKey) }, wantCode: http.StatusOK, wantBody: `{"task_id":"tsk_1","verification_code":""}`, wantCall: true},
		{name: "magic link", req: func() *http.Request { return totpDelivery(good, testKey) }, code: "https://example.com/login?token=abc",
			wantCode: http.StatusOK, wantBody: `{"task_id":"tsk_1","verification_code":"https://example.com/login?token=abc"}`, wantCall: true},
		{name: "lookup error", req: func() *http.Request { return totpDelivery(good, testKey) }, err: errors.New("inbox down"), wantCode: http.StatusInternalServerError, wantCall: true},
		{name: "GET", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, wantCode: http.StatusMethodNotAllowed},
		{name: "forged", req: func() *http.Request { return totpDelivery(good, "sk_forger") }, wantCode: http.StatusUnauthorized},
		{name: "unsigned", req: func() *http.Request {
			r := totpDelivery(good, testKey)
			r.Header.Del(SignatureHeader)
			return r
		}, wantCode: http.StatusUnauthorized},
		{name: "not JSON", req: func() *http.Request { return totpDelivery([]byte(`task_id=tsk_1`), testKey) }, wantCode: http.StatusBadRequest},
		{name: "JSON array", req: func() *http.Request { return totpDelivery([]byte(`["tsk_1"]`), testKey) }, wantCode: http.StatusBadRequest},
		{name: "JSON null", req: func() *http.Request { return totpDelivery([]byte(`null`), testKey) }, wantCode: http.StatusBadRequest},
		{name: "wrong type", req: func() *http.Request { return totpDelivery([]byte(`{"task_id":1}`), testKey) }, wantCode: http.StatusBadRequest},
		{name: "oversized", req: func() *http.Request {
			return totpDelivery([]byte(`{"task_id":"`+strings.Repeat("x", 70<<10)+`"}`), testKey)
		}, wantCode: http.StatusRequestEntityTooLarge},
		{name: "larger cap", req: func() *http.Request {
			return totpDelivery([]byte(`{"task_id":"`+strings.Repeat("x", 70<<10)+`"}`), testKey)
		}, opts: []HandlerOption{WithMaxBodyBytes(1 << 20)}, wantCode: http.StatusOK, wantCall: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			called := false
			h := mustWebhook(t, testKey).TOTPHandler(func(context.Context, *TOTPRequest) (string, error) {
				called = true
				return tc.code, tc.err
			}, tc.opts...)
			rec := serve(h, tc.req())
			assert.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			assert.Equal(t, tc.wantCall, called)
			if tc.wantBody != "" {
				assert.JSONEq(t, tc.wantBody, rec.Body.String())
			}
		})
	}
}

func TestTOTPHandlerNilFunction(t *testing.T) {
	t.Parallel()
	h := mustWebhook(t, testKey).TOTPHandler(nil)
	rec := serve(h, totpDelivery([]byte(`{"workflow_run_id":"wr_1"}`), testKey))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"workflow_run_id":"wr_1","verification_code":""}`, rec.Body.String())
}
