package skyvern

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// invalidHandlerOptions are the HandlerOption values the rule makes
// invalid, by the name of the option.
var invalidHandlerOptions = map[string]HandlerOption{
	"WithMaxBodyBytes":    WithMaxBodyBytes(-1),
	"WithMemoryBodyBytes": WithMemoryBodyBytes(-1),
	"WithBusyWait":        WithBusyWait(-time.Second),
}

func TestCheckHandlerOptions(t *testing.T) {
	t.Parallel()
	wh := mustWebhook(t, testKey)
	require.NoError(t, wh.CheckHandlerOptions())
	require.NoError(t, wh.CheckHandlerOptions(nil, WithMaxBodyBytes(0), WithMemoryBodyBytes(0), WithBusyWait(0),
		WithIdempotencyStore(nil), WithHandlerLogger(nil), WithNotify(nil), WithRunHub(nil), WithInterimHook(nil), WithSpillDir("")))
	for name, opt := range invalidHandlerOptions {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := wh.CheckHandlerOptions(WithMaxBodyBytes(1<<20), opt)
			require.ErrorIs(t, err, ErrInvalidOption)
			assert.Contains(t, err.Error(), name)
			var nilWebhook *Webhook
			assert.Equal(t, err, nilWebhook.CheckHandlerOptions(opt), "the check does not need a webhook")
		})
	}
}

func TestHandlerZeroOptionsSelectDefaults(t *testing.T) {
	t.Parallel()
	wh := mustWebhook(t, testKey)
	rc := newReceiver(wh, DefaultMaxBodyBytes, true, []HandlerOption{WithMaxBodyBytes(0), WithMemoryBodyBytes(0), nil})
	require.NoError(t, rc.cfg.err)
	assert.Equal(t, DefaultMaxBodyBytes, rc.cfg.maxBody)
	assert.Equal(t, DefaultMemoryBodyBytes, rc.cfg.memBody)
	assert.Equal(t, DefaultBusyWait, rc.cfg.busyWait)
	assert.NotNil(t, rc.cfg.store)

	totp := newReceiver(wh, defaultTOTPMaxBodyBytes, false, []HandlerOption{WithMaxBodyBytes(0)})
	assert.Equal(t, defaultTOTPMaxBodyBytes, totp.cfg.maxBody)

	off := newReceiver(wh, DefaultMaxBodyBytes, true, []HandlerOption{WithBusyWait(0)})
	assert.Zero(t, off.cfg.busyWait, "0 turns the busy wait off")
}

// TestHandlersWithInvalidOptionAnswer500 checks that each entry point given
// an invalid option refuses every request with 500 (which Skyvern retries)
// without running the user's code, and logs why at ERROR.
func TestHandlersWithInvalidOptionAnswer500(t *testing.T) {
	t.Parallel()
	body := deliveryBody("tsk_1", RunStatusCompleted)
	entryPoints := map[string]func(wh *Webhook, called *bool, opts ...HandlerOption) http.Handler{
		"Handler": func(wh *Webhook, called *bool, opts ...HandlerOption) http.Handler {
			return wh.Handler(func(context.Context, *WebhookPayload) error { *called = true; return nil }, opts...)
		},
		"Middleware": func(wh *Webhook, called *bool, opts ...HandlerOption) http.Handler {
			return wh.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { *called = true }), opts...)
		},
		"TOTPHandler": func(wh *Webhook, called *bool, opts ...HandlerOption) http.Handler {
			return wh.TOTPHandler(func(context.Context, *TOTPRequest) (string, error) { *called = true; return "123456", nil }, opts...)
		},
	}
	requests := map[string]func() *http.Request{
		"signed delivery": func() *http.Request { return delivery(body, testKey) },
		"forged delivery": func() *http.Request { return delivery(body, "sk_forger") },
		"GET":             func() *http.Request { r := delivery(body, testKey); r.Method = http.MethodGet; return r },
	}
	for entry, build := range entryPoints {
		for name, opt := range invalidHandlerOptions {
			t.Run(entry+"/"+name, func(t *testing.T) {
				t.Parallel()
				var logs safeBuffer
				called := false
				// The logger comes after the invalid option: it still applies.
				h := build(mustWebhook(t, testKey), &called, opt, WithHandlerLogger(newTestLogger(&logs)))
				startup := logs.String()
				assert.Contains(t, startup, "level=ERROR")
				assert.Contains(t, startup, name, "the configuration error is logged when the handler is built")
				for reqName, req := range requests {
					rec := serve(h, req())
					assert.Equal(t, http.StatusInternalServerError, rec.Code, reqName)
				}
				assert.False(t, called, "the user's code never runs")
				perRequest := strings.TrimPrefix(logs.String(), startup)
				assert.Equal(t, len(requests), strings.Count(perRequest, "level=ERROR"), perRequest)
				assert.Equal(t, len(requests), strings.Count(perRequest, name), perRequest)
				assert.NotContains(t, logs.String(), testKey)

				// Without a logger it answers the same, silently.
				rec := serve(build(mustWebhook(t, testKey), &called, opt), delivery(body, testKey))
				assert.Equal(t, http.StatusInternalServerError, rec.Code)
				assert.False(t, called)
			})
		}
	}
}

// TestHandlerInvalidOptionLosesNothing checks that a delivery refused for a
// bad option is processed once the handler is fixed, as Skyvern's retry
// would find it: the refused delivery left nothing behind in the store.
func TestHandlerInvalidOptionLosesNothing(t *testing.T) {
	t.Parallel()
	wh := mustWebhook(t, testKey)
	store := MustMemoryStore(t)
	var fn countingFn
	body := deliveryBody("tsk_1", RunStatusCompleted)
	broken := wh.Handler(fn.fn, WithIdempotencyStore(store), WithBusyWait(-1))
	require.Equal(t, http.StatusInternalServerError, serve(broken, delivery(body, testKey)).Code)
	fixed := wh.Handler(fn.fn, WithIdempotencyStore(store), WithBusyWait(0))
	require.Equal(t, http.StatusOK, serve(fixed, delivery(body, testKey)).Code)
	assert.Equal(t, int32(1), fn.calls.Load(), "the refused delivery held no claim: the fixed handler ran fn at once")
}
