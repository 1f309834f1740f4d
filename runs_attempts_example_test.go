package skyvern_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/skyvern-go/skyvern"
)

// A workflow with a retry policy failed its first attempt and will run
// again under the same id: the interim delivery goes to the interim hook,
// the final one, with the same status, to the handler's function.
func ExampleWithInterimHook() {
	const apiKey = "sk_example_key"
	wh, err := skyvern.NewWebhook(apiKey)
	if err != nil {
		panic(err)
	}
	handler := wh.Handler(
		func(_ context.Context, p *skyvern.WebhookPayload) error {
			fmt.Printf("final: %s after %d attempts\n", p.Status, p.Attempt)
			return nil
		},
		skyvern.WithInterimHook(func(_ context.Context, p *skyvern.WebhookPayload) error {
			fmt.Printf("interim: attempt %d %s, retrying\n", p.Attempt, p.Status)
			return nil
		}),
	)
	for _, body := range []string{
		`{"run_id":"wr_1","status":"failed","attempt":1,"retry_pending":true}`,
		`{"run_id":"wr_1","status":"failed","attempt":2,"retry_pending":false}`,
	} {
		req := httptest.NewRequest(http.MethodPost, "/skyvern/webhook", bytes.NewReader([]byte(body)))
		req.Header.Set(skyvern.SignatureHeader, skyvern.Sign([]byte(body), apiKey))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println("answered", rec.Code)
	}
	// Output:
	// interim: attempt 1 failed, retrying
	// answered 200
	// final: failed after 2 attempts
	// answered 200
}
