package skyvern

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
)

// defaultTOTPMaxBodyBytes caps a TOTP request, which holds three ids.
const defaultTOTPMaxBodyBytes int64 = 64 << 10

// TOTPRequest is the body Skyvern POSTs to a run's totp_url when the run
// reaches a two-factor prompt and needs a code from you.
//
// Facts from the server (skyvern/services/otp_service.py, function
// _get_otp_value_from_url): the body is compact JSON holding task_id,
// workflow_run_id and workflow_permanent_id, each only when the run has
// one; it is signed exactly like a webhook (x-skyvern-signature,
// x-skyvern-timestamp), with the organization's API key. Skyvern asks again
// every 10 seconds until it gets a code or its polling timeout (15 minutes
// by default) ends.
type TOTPRequest struct {
	TaskID              string `json:"task_id,omitempty"`
	WorkflowRunID       string `json:"workflow_run_id,omitempty"`
	WorkflowPermanentID string `json:"workflow_permanent_id,omitempty"`
	// TOTPIdentifier is decoded in case a server sends it; current
	// servers do not (the run's totp_identifier is used only when no
	// totp_url is set).
	TOTPIdentifier string `json:"totp_identifier,omitempty"`

	// Raw is the complete body as received.
	Raw json.RawMessage `json:"-"`
}

// TOTPResponse is the answer TOTPHandler sends: a 200 with a JSON object
// whose verification_code Skyvern reads. The ids of the request are echoed
// back for your logs; Skyvern ignores them.
//
// An empty VerificationCode tells Skyvern that no code is available yet; it
// asks again later. A code longer than 10 characters (a whole email or SMS
// body, or a magic link) is handed to the server's model, which extracts
// the code or link from it.
type TOTPResponse struct {
	TaskID              string `json:"task_id,omitempty"`
	WorkflowRunID       string `json:"workflow_run_id,omitempty"`
	WorkflowPermanentID string `json:"workflow_permanent_id,omitempty"`
	VerificationCode    string `json:"verification_code"`
}

// TOTPHandler returns an http.Handler for the totp_url of runs that log in
// behind two-factor authentication. It verifies the request like Handler
// (POST only, capped body, 401 for a bad signature, 400 for a body that is
// not a JSON object), calls fn and answers 200 with a TOTPResponse holding
// the code fn returned. fn returns "" when it has no code yet; an error
// answers 500, which Skyvern also treats as "not yet" and asks again.
//
// The options that apply are WithMaxBodyBytes (default 64 KiB) and
// WithHandlerLogger; TOTP requests are questions, not events, so they are
// not deduplicated. As with Handler, an invalid option of any kind makes it
// answer every request 500 (see [HandlerOption]).
func (w *Webhook) TOTPHandler(fn func(context.Context, *TOTPRequest) (string, error), opts ...HandlerOption) http.Handler {
	rc := newReceiver(w, defaultTOTPMaxBodyBytes, false, opts)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		received, ok := rc.readVerified(rw, r)
		if !ok {
			return
		}
		body := received.mem // never spilled: the memory limit is the cap
		req := &TOTPRequest{Raw: body}
		if !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) || json.Unmarshal(body, req) != nil {
			rc.log(r.Context(), slog.LevelError, "skyvern: undecodable TOTP request")
			http.Error(rw, "malformed TOTP request", http.StatusBadRequest)
			return
		}
		var code string
		if fn != nil {
			var err error
			code, err = fn(r.Context(), req)
			if err != nil {
				rc.log(r.Context(), slog.LevelError, "skyvern: TOTP lookup failed",
					"task_id", req.TaskID, "workflow_run_id", req.WorkflowRunID, "error", err)
				http.Error(rw, "no verification code", http.StatusInternalServerError)
				return
			}
		}
		out, err := json.Marshal(TOTPResponse{
			TaskID:              req.TaskID,
			WorkflowRunID:       req.WorkflowRunID,
			WorkflowPermanentID: req.WorkflowPermanentID,
			VerificationCode:    code,
		})
		if err != nil {
			http.Error(rw, "cannot encode answer", http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusOK)
		_, _ = rw.Write(out)
	})
}
