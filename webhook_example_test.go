package skyvern_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/skyvern-go/skyvern"
)

// A delivery as Skyvern sends it: the raw body and its signature header.
func ExampleWebhook_Verify() {
	wh, err := skyvern.NewWebhook("sk_docs_snippet_test_key")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"run_id":"tsk_1","status":"completed","step_count":3}`)
	h := http.Header{}
	h.Set(skyvern.SignatureHeader, "609e0364a92ed3cc92753bcc1b0c53f78b77d2b7782c5f2f0c9f92cfa255d875")

	fmt.Println("genuine:", wh.Verify(body, h))

	tampered := bytes.Replace(body, []byte("completed"), []byte("failed"), 1)
	err = wh.Verify(tampered, h)
	fmt.Println("tampered rejected:", errors.Is(err, skyvern.ErrInvalidSignature))

	h.Del(skyvern.SignatureHeader)
	fmt.Println("unsigned rejected:", errors.Is(wh.Verify(body, h), skyvern.ErrMissingSignature))
	// Output:
	// genuine: <nil>
	// tampered rejected: true
	// unsigned rejected: true
}

func ExampleVerifySignature() {
	body := []byte(`{"run_id":"tsk_1","status":"completed","step_count":3}`)
	sig := "609e0364a92ed3cc92753bcc1b0c53f78b77d2b7782c5f2f0c9f92cfa255d875"
	fmt.Println(skyvern.VerifySignature(body, sig, "sk_docs_snippet_test_key"))
	fmt.Println(skyvern.VerifySignature(body, sig, ""))
	// Output:
	// <nil>
	// skyvern: webhook verification needs a non-empty API key
}

// A receiver served over HTTP. The function stores the event and returns
// quickly; duplicates of a processed event are answered 200 without calling
// it again.
func ExampleWebhook_Handler() {
	const apiKey = "sk_example_key"
	wh, err := skyvern.NewWebhook(apiKey)
	if err != nil {
		panic(err)
	}
	handler := wh.Handler(func(ctx context.Context, p *skyvern.WebhookPayload) error {
		var out struct {
			Price string `json:"price"`
		}
		if err := p.DecodeOutput(&out); err != nil && !errors.Is(err, skyvern.ErrNoOutput) {
			return err // 500: Skyvern delivers again
		}
		fmt.Printf("stored %s (%s): price %s\n", p.RunID, p.Status, out.Price)
		return nil
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	body := []byte(`{"run_id":"tsk_v2_486305187432193504","status":"completed","output":{"price":"$29.99"},"run_type":"task_v2","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:23:34.993138"}`)
	deliver := func(signature string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(skyvern.SignatureHeader, signature)
		req.Header.Set(skyvern.TimestampHeader, fmt.Sprint(time.Now().Unix()))
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	deliver(skyvern.Sign(body, apiKey))        // first delivery
	deliver(skyvern.Sign(body, apiKey))        // Skyvern's retry: already done
	deliver(skyvern.Sign(body, "sk_attacker")) // forged
	// Output:
	// stored tsk_v2_486305187432193504 (completed): price $29.99
	// 200 OK
	// 200 OK
	// 401 Unauthorized
}

// Middleware suits an existing handler: it verifies, deduplicates and puts
// the payload in the request context.
func ExampleWebhook_Middleware() {
	wh, err := skyvern.NewWebhook("sk_example_key")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/hooks/skyvern", wh.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := skyvern.PayloadFromContext(r.Context())
		fmt.Println("run", p.RunID, "finished:", p.IsTerminal())
		w.WriteHeader(http.StatusNoContent)
	})))

	body := []byte(`{"run_id":"wr_1","status":"failed","run_type":"workflow_run"}`)
	req := httptest.NewRequest(http.MethodPost, "/hooks/skyvern", bytes.NewReader(body))
	req.Header.Set(skyvern.SignatureHeader, skyvern.Sign(body, "sk_example_key"))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// run wr_1 finished: true
	// 204
}

// A totp_url endpoint: Skyvern asks for a code every 10 s until it gets one.
func ExampleWebhook_TOTPHandler() {
	wh, err := skyvern.NewWebhook("sk_example_key")
	if err != nil {
		panic(err)
	}
	handler := wh.TOTPHandler(func(ctx context.Context, req *skyvern.TOTPRequest) (string, error) {
		// Look the code up in your inbox or SMS store; "" means not yet.
		return "123456", nil
	})

	body := []byte(`{"task_id":"tsk_1"}`)
	req := httptest.NewRequest(http.MethodPost, "/totp", bytes.NewReader(body))
	req.Header.Set(skyvern.SignatureHeader, skyvern.Sign(body, "sk_example_key"))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 {"task_id":"tsk_1","verification_code":"123456"}
}

// Deliveries older than the tolerance are refused. The check is advisory:
// Skyvern does not sign the timestamp.
func ExampleWithTolerance() {
	now := time.Unix(1769873016, 0)
	wh, err := skyvern.NewWebhook("sk_example_key",
		skyvern.WithTolerance(5*time.Minute),
		skyvern.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}

	body := []byte(`{"run_id":"tsk_1","status":"completed"}`)
	h := http.Header{}
	h.Set(skyvern.SignatureHeader, skyvern.Sign(body, "sk_example_key"))
	h.Set(skyvern.TimestampHeader, "1769873016")
	fmt.Println(wh.Verify(body, h))
	h.Set(skyvern.TimestampHeader, "1769869416") // an hour earlier
	fmt.Println(errors.Is(wh.Verify(body, h), skyvern.ErrTimestampOutOfTolerance))
	// Output:
	// <nil>
	// true
}
