package skyvern

import (
	"context"
	"net/http"
)

// CredentialType says where RunLogin gets the credential from.
type CredentialType string

// Credential sources of a login run.
const (
	CredentialSkyvern     CredentialType = "skyvern"
	CredentialBitwarden   CredentialType = "bitwarden"
	CredentialOnePassword CredentialType = "1password"
	CredentialAzureVault  CredentialType = "azure_vault"
)

// BlockRunSettings are the browser and callback settings shared by the
// single-block runs (RunLogin, RunDownloadFiles). Unset fields are left out
// so the server applies its defaults.
type BlockRunSettings struct {
	// URL is the website to start on.
	URL string `json:"url,omitempty"`
	// WebhookURL receives the run's signed result when it ends.
	WebhookURL string `json:"webhook_url,omitempty"`
	// ProxyLocation selects the proxy (a preset only; these routes take no
	// GeoTarget).
	ProxyLocation ProxyLocation `json:"proxy_location,omitempty"`
	// TOTPIdentifier tells Skyvern which pushed code to use (see
	// SendTOTPCode); TOTPURL is called to fetch one (see TOTPHandler).
	TOTPIdentifier string `json:"totp_identifier,omitempty"`
	TOTPURL        string `json:"totp_url,omitempty"`
	// BrowserSessionID runs in an existing browser session (pbs_…).
	BrowserSessionID string `json:"browser_session_id,omitempty"`
	// BrowserProfileID starts the browser from a saved profile (bp_…).
	BrowserProfileID string `json:"browser_profile_id,omitempty"`
	// StartFreshBrowser ignores saved browser memory.
	StartFreshBrowser bool `json:"start_fresh_browser,omitempty"`
	// BrowserAddress connects to your own browser (http(s) or ws(s) CDP URL).
	BrowserAddress    string            `json:"browser_address,omitempty"`
	ExtraHTTPHeaders  map[string]string `json:"extra_http_headers,omitempty"`
	CDPConnectHeaders map[string]string `json:"cdp_connect_headers,omitempty"`
	// MaxScreenshotScrollingTimes caps scrolling screenshots.
	MaxScreenshotScrollingTimes *int `json:"max_screenshot_scrolling_times,omitempty"`
}

func (s *BlockRunSettings) validate() error {
	if err := validateCallbackURL("url", s.URL); err != nil {
		return err
	}
	if err := validateCallbackURL("webhook_url", s.WebhookURL); err != nil {
		return err
	}
	if err := validateCallbackURL("totp_url", s.TOTPURL); err != nil {
		return err
	}
	if s.StartFreshBrowser && (s.BrowserSessionID != "" || s.BrowserProfileID != "" || s.BrowserAddress != "") {
		return &InvalidRequestError{Field: "start_fresh_browser", Reason: "cannot be combined with browser_session_id, browser_profile_id or browser_address"}
	}
	return nil
}

// LoginRequest is the body of RunLogin (Skyvern's LoginRequest). Set
// CredentialType and the fields that source needs: CredentialID for
// CredentialSkyvern; BitwardenItemID or BitwardenCollectionID for
// CredentialBitwarden; OnePasswordVaultID and OnePasswordItemID for
// CredentialOnePassword; the AzureVault fields for CredentialAzureVault.
type LoginRequest struct {
	BlockRunSettings
	CredentialType CredentialType `json:"credential_type"`
	// Prompt replaces Skyvern's default login instructions.
	Prompt                  string `json:"prompt,omitempty"`
	CredentialID            string `json:"credential_id,omitempty"`
	BitwardenCollectionID   string `json:"bitwarden_collection_id,omitempty"`
	BitwardenItemID         string `json:"bitwarden_item_id,omitempty"`
	OnePasswordVaultID      string `json:"onepassword_vault_id,omitempty"`
	OnePasswordItemID       string `json:"onepassword_item_id,omitempty"`
	AzureVaultName          string `json:"azure_vault_name,omitempty"`
	AzureVaultUsernameKey   string `json:"azure_vault_username_key,omitempty"`
	AzureVaultPasswordKey   string `json:"azure_vault_password_key,omitempty"`
	AzureVaultTOTPSecretKey string `json:"azure_vault_totp_secret_key,omitempty"`
}

func (r *LoginRequest) validate() error {
	if r == nil {
		return &InvalidRequestError{Field: "request", Reason: "must not be nil"}
	}
	missing := func(field string) error {
		return &InvalidRequestError{Field: field, Reason: "is required for credential_type " + string(r.CredentialType)}
	}
	switch r.CredentialType {
	case "":
		return &InvalidRequestError{Field: "credential_type", Reason: "is required"}
	case CredentialSkyvern:
		if isBlank(r.CredentialID) {
			return missing("credential_id")
		}
	case CredentialBitwarden:
		if isBlank(r.BitwardenItemID) && isBlank(r.BitwardenCollectionID) {
			return missing("bitwarden_item_id or bitwarden_collection_id")
		}
	case CredentialOnePassword:
		if isBlank(r.OnePasswordVaultID) {
			return missing("onepassword_vault_id")
		}
		if isBlank(r.OnePasswordItemID) {
			return missing("onepassword_item_id")
		}
	case CredentialAzureVault:
		if isBlank(r.AzureVaultName) {
			return missing("azure_vault_name")
		}
	}
	// Unknown credential types pass: the server may know newer ones and
	// answers 422 otherwise.
	return r.BlockRunSettings.validate()
}

// RunLogin starts a run that logs in to a website with a stored credential
// (POST /v1/run/tasks/login) and returns the created run, a workflow run
// (wr_…) of one login block. Its result arrives like RunWorkflow's: at
// WebhookURL or by polling (WaitForRun).
//
// RunLogin starts billed work, so it follows RunTask's rule: it is sent again
// only if the previous attempt provably never reached the server or was
// refused with 429; after an ambiguous failure the error matches
// ErrOutcomeUnknown instead of a resend starting a second run.
// [Client.ResolveOutcome] and WithOutcomeResolution work on that error as for
// RunTask. The server runs a login in a workflow it generates, titled
// "Login", and the run echoes only the browser and callback settings
// (proxy, webhook_url, totp_url, totp_identifier, browser session, profile
// and address, screenshot scrolls); resolution compares those, then reads
// the generated workflow (GET /v1/workflows/{id}) for the URL, the prompt
// when one was sent, and a Skyvern credential's id. Bitwarden, 1Password and
// Azure Vault references are not compared. Where the workflow cannot be read
// (404 or 403), a run rests on its echo alone; when more look-alike runs
// are found than this client has unresolved identical calls, the outcome
// stays unknown (an *UnresolvedOutcomeError listing them) rather than a
// guess. Residual risk as for RunTask: a look-alike login by another
// process while this call created nothing is taken for this call's.
func (c *Client) RunLogin(ctx context.Context, req *LoginRequest, opts ...RequestOption) (*Run, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	return c.startRun(ctx, apiCall{method: http.MethodPost, path: c.endpoint("v1", "run", "tasks", "login"), body: req}, opts)
}
