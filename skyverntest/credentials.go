package skyverntest

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// totpCodeWire is TOTPCode.
type totpCodeWire struct {
	TOTPIdentifier string       `json:"totp_identifier"`
	TaskID         *string      `json:"task_id"`
	WorkflowID     *string      `json:"workflow_id"`
	WorkflowRunID  *string      `json:"workflow_run_id"`
	Source         *string      `json:"source"`
	Content        string       `json:"content"`
	ExpiredAt      pyjson.Value `json:"expired_at"`
	Type           *string      `json:"type"`
	TOTPCodeID     string       `json:"totp_code_id"`
	Code           string       `json:"code"`
	OrganizationID string       `json:"organization_id"`
	CreatedAt      skyvern.Time `json:"created_at"`
	ModifiedAt     skyvern.Time `json:"modified_at"`
	OTPType        *string      `json:"otp_type"`
}

// otpDigits finds the code in a message; Skyvern asks an LLM, the fake
// takes the first run of 4 to 10 digits.
var otpDigits = regexp.MustCompile(`\b[0-9]{4,10}\b`)

// TOTPCodes returns the codes pushed with send_totp_code for an identifier
// (compared case-insensitively, as the server normalizes e-mail
// addresses), oldest first.
func (s *Server) TOTPCodes(identifier string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.surface.totpCodes {
		if strings.EqualFold(c.TOTPIdentifier, identifier) {
			out = append(out, c.Code)
		}
	}
	return out
}

// handleSendTOTPCode answers send_totp_code. Validation errors of the
// credentials routes are sanitized to loc, msg and type.
func (s *Server) handleSendTOTPCode(w http.ResponseWriter, _ *http.Request, c *call) {
	obj, ok := requireObject(w, c.body)
	if !ok {
		return
	}
	f := newFields(obj, "body")
	ident := f.requiredString("totp_identifier")
	taskID, workflowID, runID := f.str("task_id"), f.str("workflow_id"), f.str("workflow_run_id")
	source := f.str("source")
	content := f.requiredString("content")
	expiredAt := f.anyValue("expired_at")
	typ := f.enum("type", []string{"totp", "magic_link"})
	if len(f.errs) > 0 {
		writeSanitizedValidation(w, f.errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case taskID != nil && s.runs[*taskID] == nil:
		writeDetail(w, http.StatusBadRequest, "Invalid task id: "+*taskID)
		return
	case workflowID != nil && s.workflows[*workflowID] == nil:
		writeDetail(w, http.StatusBadRequest, "Invalid workflow id: "+*workflowID)
		return
	case runID != nil && s.runs[*runID] == nil:
		writeDetail(w, http.StatusBadRequest, "Invalid workflow run id: "+*runID)
		return
	}
	code := otpDigits.FindString(content)
	if code == "" {
		writeDetail(w, http.StatusBadRequest, "Failed to parse otp login")
		return
	}
	if expiredAt == nil {
		expiredAt = pyjson.Null{}
	}
	now := skyvern.NewTime(s.now())
	rec := &totpCodeWire{
		TOTPIdentifier: strings.ToLower(ident), TaskID: taskID, WorkflowID: workflowID, WorkflowRunID: runID,
		Source: source, Content: content, ExpiredAt: expiredAt, Type: typ,
		TOTPCodeID: s.ids.next("totp"), Code: code, OrganizationID: s.orgID,
		CreatedAt: now, ModifiedAt: now, OTPType: stringPtr("totp"),
	}
	s.surface.totpCodes = append(s.surface.totpCodes, rec)
	writeJSON(w, http.StatusOK, mustJSONValue(rec))
}

// writeSanitizedValidation writes a 422 whose items keep only loc, msg and
// type, as Skyvern does on its /v1/credentials routes.
func writeSanitizedValidation(w http.ResponseWriter, errs []validationError) {
	list := make(pyjson.Array, len(errs))
	for i, e := range errs {
		full := e.value().(*pyjson.Object)
		item := pyjson.NewObject()
		for _, k := range []string{"loc", "msg", "type"} {
			v, _ := full.Get(k)
			item.Set(k, v)
		}
		list[i] = item
	}
	obj := pyjson.NewObject()
	obj.Set("detail", list)
	writeJSON(w, http.StatusUnprocessableEntity, obj)
}
