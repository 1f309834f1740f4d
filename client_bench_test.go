package skyvern_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skyvern-go/skyvern"
)

// benchRunJSON is a realistic completed task run of about 2 KB.
var benchRunJSON = func() string {
	s := taskRunJSON
	s = strings.Replace(s, `"output":{"top_post_title":"Antirender","points":412}`,
		`"output":{"top_post_title":"Antirender: remove the glossy shine on architectural renderings","points":412,"comments":[{"user":"alice","text":"Nice work on the rendering pipeline"},{"user":"bob","text":"How does it handle reflections on glass facades?"}]}`, 1)
	return s
}()

func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	body := []byte(benchRunJSON)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkGetRun measures the SDK's GetRun against a loopback server. Compare
// with BenchmarkGetRunBaseline, which does the same exchange with bare
// net/http and encoding/json.
func BenchmarkGetRun(b *testing.B) {
	srv := benchServer(b)
	c, err := skyvern.NewClient(testAPIKey, skyvern.WithBaseURL(srv.URL))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(benchRunJSON)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run, err := c.GetRun(ctx, "tsk_490440844256003946")
		if err != nil || run.Status != skyvern.RunStatusCompleted {
			b.Fatal(run, err)
		}
	}
}

// BenchmarkGetRunBaseline is the floor: one GET with the API key header and
// a decode into the same struct, with no retries, limits or error decoding.
func BenchmarkGetRunBaseline(b *testing.B) {
	srv := benchServer(b)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	ctx := context.Background()
	url := srv.URL + "/v1/runs/tsk_490440844256003946"
	b.SetBytes(int64(len(benchRunJSON)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("x-api-key", testAPIKey)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var run skyvern.Run
		err = json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		if err != nil || run.Status != skyvern.RunStatusCompleted {
			b.Fatal(err)
		}
	}
}
