package skyvern

import (
	"context"
	"encoding/json"
	"net/http"
)

// OTPType is the kind of one-time password Skyvern found in a pushed
// message.
type OTPType string

// One-time password kinds.
const (
	OTPTypeTOTP      OTPType = "totp"
	OTPTypeMagicLink OTPType = "magic_link"
)

// TOTPCodeRequest is the body of SendTOTPCode (Skyvern's TOTPCodeCreate):
// the message that carries a code, pushed to Skyvern as it arrives, for a run
// that waits for a code under TOTPIdentifier.
type TOTPCodeRequest struct {
	// TOTPIdentifier matches the run's totp_identifier: the e-mail
	// address, phone number or user id the code was sent to. Required.
	TOTPIdentifier string `json:"totp_identifier"`
	// Content is the whole message (e-mail body, SMS text); Skyvern
	// extracts the code from it. Required.
	Content string `json:"content"`
	// TaskID, WorkflowID (wpid_…) and WorkflowRunID narrow which run the
	// code is for; the server refuses ids it does not know (400).
	TaskID        string `json:"task_id,omitempty"`
	WorkflowID    string `json:"workflow_id,omitempty"`
	WorkflowRunID string `json:"workflow_run_id,omitempty"`
	// Source says where the message came from, e.g. "email" or "sms".
	Source string `json:"source,omitempty"`
	// ExpiredAt is when the code stops being valid.
	ExpiredAt *Time `json:"expired_at,omitempty"`
}

// TOTPCode is the code Skyvern stored (Skyvern's TOTPCode).
type TOTPCode struct {
	TOTPCodeID     string `json:"totp_code_id"`
	TOTPIdentifier string `json:"totp_identifier"`
	// Code is what Skyvern extracted from Content.
	Code           string  `json:"code"`
	Content        string  `json:"content"`
	TaskID         string  `json:"task_id,omitempty"`
	WorkflowID     string  `json:"workflow_id,omitempty"`
	WorkflowRunID  string  `json:"workflow_run_id,omitempty"`
	Source         string  `json:"source,omitempty"`
	OrganizationID string  `json:"organization_id"`
	OTPType        OTPType `json:"otp_type,omitempty"`
	ExpiredAt      *Time   `json:"expired_at,omitempty"`
	CreatedAt      Time    `json:"created_at"`
	ModifiedAt     Time    `json:"modified_at"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// SendTOTPCode pushes a message carrying a one-time code to Skyvern
// (POST /v1/credentials/totp), the push side that complements TOTPHandler
// (where Skyvern pulls the code from your endpoint). The server answers 402
// when the organization lacks the credits to parse the message.
//
// A code stored twice is harmless (the run uses the newest for its
// identifier), but the call is still not resent after an ambiguous failure:
// it follows the class of the other writes, and its error matches
// ErrOutcomeUnknown so the caller decides.
func (c *Client) SendTOTPCode(ctx context.Context, req *TOTPCodeRequest, opts ...RequestOption) (*TOTPCode, error) {
	switch {
	case req == nil:
		return nil, &InvalidRequestError{Field: "request", Reason: "must not be nil"}
	case isBlank(req.TOTPIdentifier):
		return nil, &InvalidRequestError{Field: "totp_identifier", Reason: "is required"}
	case isBlank(req.Content):
		return nil, &InvalidRequestError{Field: "content", Reason: "is required"}
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "credentials", "totp"), body: req, class: retryUnsafe}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var code TOTPCode
	if err := decodeJSON(call, resp.body, &code); err != nil {
		return nil, err
	}
	code.Raw = resp.body
	return &code, nil
}
