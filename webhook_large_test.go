package skyvern_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// bigDelivery describes a genuine 100 MiB workflow delivery, generated on
// demand so that no test holds it: its output (50 MiB) comes twice, in
// output and in outputs, as Skyvern sends it.
type bigDelivery struct{ half int64 }

const bigPattern = "0123456789abcdef"

func (d bigDelivery) prefix() string {
	return `{"run_id":"wr_huge","status":"completed","run_type":"workflow_run","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:23:34","output":`
}

const bigMiddle = `,"step_count":7,"outputs":{"extract":`
const bigSuffix = `},"summary":"done"}`

// output streams the output value.
func (d bigDelivery) output() io.Reader {
	return io.MultiReader(strings.NewReader(`{"rows":"`), newPatternReader("", bigPattern, d.half), strings.NewReader(`"}`))
}

func (d bigDelivery) body() io.Reader {
	return io.MultiReader(strings.NewReader(d.prefix()), d.output(), strings.NewReader(bigMiddle), d.output(), strings.NewReader(bigSuffix))
}

func (d bigDelivery) size() int64 {
	return int64(len(d.prefix())+len(bigMiddle)+len(bigSuffix)) + 2*(d.half+int64(len(`{"rows":""}`)))
}

// sum returns the hex SHA-256 (or, with a key, HMAC-SHA256) of r.
func sum(t *testing.T, r io.Reader, key string) string {
	t.Helper()
	h := sha256.New()
	if key != "" {
		h = hmac.New(sha256.New, []byte(key))
	}
	_, err := io.Copy(h, r)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

func TestHandlerHugeDelivery(t *testing.T) {
	// Not parallel: the heap figures must not include other tests' work.
	if testing.Short() {
		t.Skip("streams 100 MiB bodies")
	}
	d := bigDelivery{half: hugeBody / 2}
	require.GreaterOrEqual(t, d.size(), int64(hugeBody))
	genuine := sum(t, d.body(), testAPIKey)
	wantOutput := sum(t, d.output(), "")
	wh, err := skyvern.NewWebhook(testAPIKey)
	require.NoError(t, err)

	tests := []struct {
		name       string
		signature  string
		withLength bool
		want       int
	}{
		{"genuine, with Content-Length", genuine, true, http.StatusOK},
		{"genuine, chunked", genuine, false, http.StatusOK},
		{"forged, with Content-Length", strings.Repeat("ab", 32), true, http.StatusUnauthorized},
		{"forged, chunked", strings.Repeat("ab", 32), false, http.StatusUnauthorized},
	}
	var lines []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var calls atomic.Int32
			var fnErr error
			h := wh.Handler(func(_ context.Context, p *skyvern.WebhookPayload) error {
				calls.Add(1)
				fnErr = checkHugePayload(p, d, wantOutput)
				return fnErr
			}, skyvern.WithSpillDir(dir))
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)

			var status int
			use := measureHeap(func() { status = postStream(t, srv.URL, tt.signature, d.body(), d.size(), tt.withLength) })
			assert.Equal(t, tt.want, status)
			assert.NoError(t, fnErr)
			assert.Less(t, use.peak, uint64(16<<20), "%v", use)
			lines = append(lines, fmt.Sprintf("webhook_huge[%s]: %d %v", tt.name, status, use))
			// Redeliveries of a spilled event are deduplicated like any
			// other (TestHandlerSpilledDelivery); one 100 MiB pass is
			// enough here.
			want := int32(0)
			if tt.want == http.StatusOK {
				want = 1
			}
			assert.Equal(t, want, calls.Load(), "processed once")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries)
		})
	}
	t.Logf("webhook: large deliveries %s", strings.Join(lines, "; "))
}

// checkHugePayload checks what fn sees of the 100 MiB delivery, reading the
// large values from disk without holding them.
func checkHugePayload(p *skyvern.WebhookPayload, d bigDelivery, wantOutput string) error {
	switch {
	case !p.Spilled():
		return fmt.Errorf("payload not spilled")
	case p.RunID != "wr_huge" || p.Status != skyvern.RunStatusCompleted || p.RunType != skyvern.RunTypeWorkflowRun:
		return fmt.Errorf("small fields: %q %q %q", p.RunID, p.Status, p.RunType)
	case p.StepCount == nil || *p.StepCount != 7 || p.Summary != "done" || p.FinishedAt != nil || p.CreatedAt.IsZero():
		return fmt.Errorf("small fields after the large ones: %v %q", p.StepCount, p.Summary)
	case p.Output != nil || p.Outputs != nil || p.Raw != nil:
		return fmt.Errorf("large values held in memory")
	case p.Large.Size() != d.size():
		return fmt.Errorf("size %d, want %d", p.Large.Size(), d.size())
	}
	r, ok := p.LargeValue("output")
	if !ok {
		return fmt.Errorf("no large output: %v", p.Large.Names())
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantOutput {
		return fmt.Errorf("output differs")
	}
	r, ok = p.LargeValue("outputs")
	if !ok {
		return fmt.Errorf("no large outputs")
	}
	head := make([]byte, len(`{"extract":{"rows":"0123`))
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, []byte(`{"extract":{"rows":"0123`)) {
		return fmt.Errorf("outputs starts %q (%v)", head, err)
	}
	return nil
}
