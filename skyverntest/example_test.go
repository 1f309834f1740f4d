package skyverntest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// A test starts a run on the fake, finishes it, and receives the signed
// webhook on its own handler.
func Example() {
	got := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		valid := r.Header.Get(skyvern.SignatureHeader) == skyvern.Sign(body, skyverntest.DefaultAPIKey)
		var p struct {
			RunID  string `json:"run_id"`
			Status string `json:"status"`
		}
		_ = json.Unmarshal(body, &p)
		got <- fmt.Sprintf("webhook: status=%s signature valid=%v", p.Status, valid)
	}))
	defer receiver.Close()

	srv := skyverntest.NewServer()
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/v1/run/tasks",
		strings.NewReader(`{"prompt":"Find the top post","webhook_url":"`+receiver.URL+`"}`))
	req.Header.Set("x-api-key", srv.APIKey())
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	var run struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	fmt.Println("created:", run.Status)

	_ = srv.Complete(run.RunID, map[string]any{"title": "Hello"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	delivery, _ := srv.WaitForDelivery(ctx, run.RunID)
	fmt.Println(<-got)
	fmt.Println("attempts:", len(delivery.Attempts))
	// Output:
	// created: created
	// webhook: status=completed signature valid=true
	// attempts: 1
}
