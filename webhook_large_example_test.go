package skyvern_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/skyvern-go/skyvern"
)

// A delivery too large for memory reaches the function spilled: its small
// fields decoded, its large values read from disk. Here the memory limit is
// tiny, so a modest output spills; by default it is 4 MiB.
func ExampleWebhookPayload_LargeValue() {
	wh, err := skyvern.NewWebhook("sk_example_key")
	if err != nil {
		panic(err)
	}
	handler := wh.Handler(func(_ context.Context, p *skyvern.WebhookPayload) error {
		fmt.Println("run:", p.RunID, p.Status, "spilled:", p.Spilled())
		r, ok := p.LargeValue("output")
		if !ok {
			return p.DecodeOutput(new(any)) // small enough: decoded in memory
		}
		// Stream the rows one at a time instead of holding them all.
		dec := json.NewDecoder(r)
		if _, err := dec.Token(); err != nil { // [
			return err
		}
		rows := 0
		for dec.More() {
			var row struct{ Name string }
			if err := dec.Decode(&row); err != nil {
				return err
			}
			rows++
		}
		fmt.Println("rows streamed from disk:", rows)
		return nil
	}, skyvern.WithMemoryBodyBytes(1<<10))

	rows := strings.TrimSuffix(strings.Repeat(`{"name":"row"},`, 5000), ",")
	body := `{"run_id":"wr_1","status":"completed","run_type":"workflow_run","output":[` + rows + `]}`
	req := httptest.NewRequest(http.MethodPost, "/skyvern/webhook", strings.NewReader(body))
	req.Header.Set(skyvern.SignatureHeader, skyvern.Sign([]byte(body), "sk_example_key"))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	answer, _ := io.ReadAll(rec.Body)
	fmt.Print(rec.Code, " ", string(answer))
	// Output:
	// run: wr_1 completed spilled: true
	// rows streamed from disk: 5000
	// 200 ok
}
