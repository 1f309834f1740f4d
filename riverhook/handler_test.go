package riverhook_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/riverhook"
)

// fakeInserter records inserts, or fails them.
type fakeInserter struct {
	mu   sync.Mutex
	jobs []riverhook.EventArgs
	opts []*river.InsertOpts
	err  error
}

func (f *fakeInserter) Insert(_ context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.jobs = append(f.jobs, args.(riverhook.EventArgs))
	f.opts = append(f.opts, opts)
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{ID: int64(len(f.jobs))}}, nil
}

func TestHandlerAnswers(t *testing.T) {
	t.Parallel()
	final := webhookBody("wr_1", skyvern.RunStatusFailed, 2, false)
	interim := webhookBody("wr_1", skyvern.RunStatusFailed, 1, true)
	tests := []struct {
		name      string
		body      []byte
		signature string
		insertErr error
		wantCode  int
		wantJobs  int
	}{
		{"final event", final, skyvern.Sign(final, testKey), nil, http.StatusOK, 1},
		{"interim delivery: no job", interim, skyvern.Sign(interim, testKey), nil, http.StatusOK, 0},
		{"forged", final, skyvern.Sign(final, "another-value"), nil, http.StatusUnauthorized, 0},
		{"insert fails: Skyvern retries", final, skyvern.Sign(final, testKey), errors.New("database down"), http.StatusInternalServerError, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wh, err := skyvern.NewWebhook(testKey)
			require.NoError(t, err)
			ins := &fakeInserter{err: tt.insertErr}
			opts := &river.InsertOpts{Queue: "webhooks", MaxAttempts: 5}
			h := riverhook.NewHandler(wh, ins, riverhook.WithInsertOpts(opts))
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(tt.body))
			req.Header.Set("x-skyvern-signature", tt.signature)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tt.wantCode, rec.Code)
			require.Len(t, ins.jobs, tt.wantJobs)
			if tt.wantJobs == 1 {
				job := ins.jobs[0]
				assert.Equal(t, "wr_1", job.RunID)
				assert.Equal(t, "failed", job.Status)
				assert.NotEmpty(t, job.Key)
				assert.JSONEq(t, string(tt.body), string(job.Payload))
				assert.Same(t, opts, ins.opts[0])
				p, err := job.WebhookPayload()
				require.NoError(t, err)
				assert.Equal(t, job.Key, p.IdempotencyKey(), "the key is the payload's own")
			}
		})
	}
}

func TestFinal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"terminal", `{"run_id":"wr_1","status":"completed"}`, true},
		{"terminal, no retry pending", `{"run_id":"wr_1","status":"failed","retry_pending":false}`, true},
		{"interim attempt", `{"run_id":"wr_1","status":"failed","retry_pending":true}`, false},
		{"not terminal", `{"run_id":"wr_1","status":"running"}`, false},
	}
	for _, tt := range tests {
		var p skyvern.WebhookPayload
		require.NoError(t, p.UnmarshalJSON([]byte(tt.body)), tt.name)
		assert.Equal(t, tt.want, riverhook.Final(&p), tt.name)
	}
}

func TestWithFinalOverrides(t *testing.T) {
	t.Parallel()
	wh, err := skyvern.NewWebhook(testKey)
	require.NoError(t, err)
	ins := &fakeInserter{}
	h := riverhook.NewHandler(wh, ins, riverhook.WithFinal(func(p *skyvern.WebhookPayload) bool { return p.Status != skyvern.RunStatusFailed }))
	body := webhookBody("wr_2", skyvern.RunStatusFailed, 1, false)
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("x-skyvern-signature", skyvern.Sign(body, testKey))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, ins.jobs, "the predicate keeps this final delivery out of River")
}

func TestHandlerWithInvalidOptionInsertsNothing(t *testing.T) {
	t.Parallel()
	wh, err := skyvern.NewWebhook(testKey)
	require.NoError(t, err)
	bad := skyvern.WithMaxBodyBytes(-1)
	require.ErrorIs(t, wh.CheckHandlerOptions(bad), skyvern.ErrInvalidOption)
	ins := &fakeInserter{}
	h := riverhook.NewHandler(wh, ins, riverhook.WithHandlerOptions(bad))
	body := webhookBody("wr_3", skyvern.RunStatusCompleted, 1, false)
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("x-skyvern-signature", skyvern.Sign(body, testKey))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusInternalServerError, rec.Code, "Skyvern delivers again once the option is fixed")
	assert.Empty(t, ins.jobs)
}
