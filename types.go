package skyvern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Time is a timestamp as Skyvern sends it.
//
// Skyvern stores naive UTC datetimes and serializes them without a zone
// ("2026-01-31T15:20:42.160725", or "2026-01-31T15:20:42" when the
// microseconds are zero). Time reads that form as UTC, and also accepts 1 to 9
// fraction digits, a "Z" suffix, numeric offsets and JSON null (which leaves
// the value unchanged, as encoding/json does for other types). The embedded
// time.Time is always in UTC.
//
// Time marshals back in Skyvern's own form: naive UTC, with a six-digit
// fraction only when the microseconds are not zero. The zero Time marshals
// as null.
type Time struct {
	time.Time
}

// NewTime returns t as a Time in UTC.
func NewTime(t time.Time) Time { return Time{t.UTC()} }

// Layouts tried in order; "2006-01-02T15:04:05.999999999" accepts 0–9
// fraction digits, with or without a zone.
var timeLayouts = [...]string{
	"2006-01-02T15:04:05.999999999",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return &time.ParseError{Layout: timeLayouts[0], Value: string(data), Message: ": skyvern timestamp must be a JSON string"}
	}
	parsed, err := ParseTime(string(data[1 : len(data)-1]))
	if err != nil {
		return err
	}
	*t = parsed
	return nil
}

// ParseTime parses a timestamp in any form Skyvern is known to send (see Time).
// A value without a zone is taken as UTC.
func ParseTime(s string) (Time, error) {
	var firstErr error
	for _, layout := range timeLayouts {
		v, err := time.Parse(layout, s)
		if err == nil {
			return checkTimeRange(Time{v.UTC()}, s)
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return Time{}, fmt.Errorf("skyvern: cannot parse timestamp %q: %w", s, firstErr)
}

// checkTimeRange refuses instants whose UTC year has no four-digit form
// (an offset can push year 0 or 9999 across the edge): Time could not write
// them back in Skyvern's form.
func checkTimeRange(t Time, s string) (Time, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return Time{}, fmt.Errorf("skyvern: timestamp %q is outside years 0000-9999 in UTC", s)
	}
	return t, nil
}

// MarshalJSON implements json.Marshaler, writing Skyvern's naive UTC form.
// Like time.Time, it fails for years outside 0000-9999.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("skyvern: cannot marshal time %v: year outside 0000-9999", t.Time)
	}
	b := make([]byte, 0, 28)
	b = append(b, '"')
	b = t.appendSkyvern(b)
	return append(b, '"'), nil
}

// String returns the timestamp in Skyvern's naive UTC form.
func (t Time) String() string {
	if t.IsZero() {
		return ""
	}
	return string(t.appendSkyvern(nil))
}

func (t Time) appendSkyvern(b []byte) []byte {
	u := t.UTC()
	if u.Nanosecond()/1000 == 0 {
		return u.AppendFormat(b, "2006-01-02T15:04:05")
	}
	return u.AppendFormat(b, "2006-01-02T15:04:05.000000")
}

// RunStatus is the status of a run. Unknown values decode without error.
type RunStatus string

// Run statuses, as listed in Skyvern's run_enums.
const (
	RunStatusCreated    RunStatus = "created"
	RunStatusQueued     RunStatus = "queued"
	RunStatusRunning    RunStatus = "running"
	RunStatusPaused     RunStatus = "paused"
	RunStatusTimedOut   RunStatus = "timed_out"
	RunStatusFailed     RunStatus = "failed"
	RunStatusTerminated RunStatus = "terminated"
	RunStatusCompleted  RunStatus = "completed"
	RunStatusCanceled   RunStatus = "canceled"
)

// IsTerminal reports whether s is a terminal status: completed, failed,
// terminated, timed_out or canceled. Paused runs wait for a human and are not
// terminal; an unknown status is not terminal either, so a waiter keeps
// polling rather than returning early on a status it does not understand.
//
// A terminal status describes one attempt, not the run: a workflow with a
// retry policy (see [RetryPolicy]) reports failed and then starts again under
// the same run id. Whether the run is over is [Run.IsFinal] (or
// [WebhookPayload.IsFinal]): a terminal status and no retry pending.
func (s RunStatus) IsTerminal() bool {
	switch s {
	case RunStatusCompleted, RunStatusFailed, RunStatusTerminated, RunStatusTimedOut, RunStatusCanceled:
		return true
	}
	return false
}

// RetryDecision is what the server decided after a workflow attempt ended
// (RunAttempt.RetryDecision). Unknown values decode without error.
type RetryDecision string

// Retry decisions.
const (
	// RetryDecisionRetry means another attempt follows.
	RetryDecisionRetry RetryDecision = "retry"
	// RetryDecisionFinal means this attempt's outcome is the run's.
	RetryDecisionFinal RetryDecision = "final"
	// RetryDecisionRevoked means a planned retry was called off.
	RetryDecisionRevoked RetryDecision = "revoked"
	// RetryDecisionAbandoned means a planned retry never started.
	RetryDecisionAbandoned RetryDecision = "abandoned"
)

// WebhookOnRetry says which attempts of a retried workflow run send a
// webhook (RetryPolicy.WebhookOnRetry). Unknown values decode without error
// but are refused before sending.
type WebhookOnRetry string

// Webhook modes of a retry policy.
const (
	// WebhookOnRetryFinalOnly sends one webhook, for the last attempt. It is
	// the server's default.
	WebhookOnRetryFinalOnly WebhookOnRetry = "final_only"
	// WebhookOnRetryEveryAttempt also sends an interim webhook for every
	// attempt that will be retried: a terminal status with retry_pending
	// true (see [WebhookPayload.IsFinal] and [WithInterimHook]).
	WebhookOnRetryEveryAttempt WebhookOnRetry = "every_attempt"
)

func (m WebhookOnRetry) known() bool {
	return m == WebhookOnRetryFinalOnly || m == WebhookOnRetryEveryAttempt
}

// BrowserType selects the browser a workflow runs in
// (WorkflowRunRequest.BrowserType, WorkflowDefinition.BrowserType). Values
// this package has no constant for are sent as given.
type BrowserType string

// Browser types the server knows.
const (
	BrowserTypeMSEdge          BrowserType = "msedge"
	BrowserTypeChrome          BrowserType = "chrome"
	BrowserTypeStealthChromium BrowserType = "stealth-chromium"
)

// RunType says which engine produced a run. Unknown values decode without error.
type RunType string

// Run types. Every run type except RunTypeWorkflowRun is a task run.
const (
	RunTypeTaskV1          RunType = "task_v1"
	RunTypeTaskV2          RunType = "task_v2"
	RunTypeTaskV3          RunType = "task_v3"
	RunTypeWorkflowRun     RunType = "workflow_run"
	RunTypeOpenAICUA       RunType = "openai_cua"
	RunTypeAnthropicCUA    RunType = "anthropic_cua"
	RunTypeUITars          RunType = "ui_tars"
	RunTypeYutoriNavigator RunType = "yutori_navigator"
)

// IsWorkflow reports whether the run is a workflow run (as opposed to a task run).
func (t RunType) IsWorkflow() bool { return t == RunTypeWorkflowRun }

// RunEngine selects the agent that executes a task.
type RunEngine string

// Run engines. The server's default is RunEngineSkyvernV1.
const (
	RunEngineSkyvernV1       RunEngine = "skyvern-1.0"
	RunEngineSkyvernV2       RunEngine = "skyvern-2.0"
	RunEngineSkyvernV3       RunEngine = "skyvern-3.0"
	RunEngineOpenAICUA       RunEngine = "openai-cua"
	RunEngineAnthropicCUA    RunEngine = "anthropic-cua"
	RunEngineUITars          RunEngine = "ui-tars"
	RunEngineYutoriNavigator RunEngine = "yutori-navigator"
)

// ProxyLocation is one of Skyvern's named proxy presets.
type ProxyLocation string

// Proxy presets. ProxyNone turns the proxy off explicitly; it is different
// from leaving the field unset, which lets the server apply its default
// (RESIDENTIAL).
const (
	ProxyResidential    ProxyLocation = "RESIDENTIAL"
	ProxyUSCA           ProxyLocation = "US-CA"
	ProxyUSNY           ProxyLocation = "US-NY"
	ProxyUSTX           ProxyLocation = "US-TX"
	ProxyUSFL           ProxyLocation = "US-FL"
	ProxyUSWA           ProxyLocation = "US-WA"
	ProxyResidentialES  ProxyLocation = "RESIDENTIAL_ES"
	ProxyResidentialIE  ProxyLocation = "RESIDENTIAL_IE"
	ProxyResidentialGB  ProxyLocation = "RESIDENTIAL_GB"
	ProxyResidentialIN  ProxyLocation = "RESIDENTIAL_IN"
	ProxyResidentialJP  ProxyLocation = "RESIDENTIAL_JP"
	ProxyResidentialFR  ProxyLocation = "RESIDENTIAL_FR"
	ProxyResidentialDE  ProxyLocation = "RESIDENTIAL_DE"
	ProxyResidentialNZ  ProxyLocation = "RESIDENTIAL_NZ"
	ProxyResidentialZA  ProxyLocation = "RESIDENTIAL_ZA"
	ProxyResidentialAR  ProxyLocation = "RESIDENTIAL_AR"
	ProxyResidentialAU  ProxyLocation = "RESIDENTIAL_AU"
	ProxyResidentialBR  ProxyLocation = "RESIDENTIAL_BR"
	ProxyResidentialTR  ProxyLocation = "RESIDENTIAL_TR"
	ProxyResidentialCA  ProxyLocation = "RESIDENTIAL_CA"
	ProxyResidentialMX  ProxyLocation = "RESIDENTIAL_MX"
	ProxyResidentialIT  ProxyLocation = "RESIDENTIAL_IT"
	ProxyResidentialNL  ProxyLocation = "RESIDENTIAL_NL"
	ProxyResidentialPH  ProxyLocation = "RESIDENTIAL_PH"
	ProxyResidentialKR  ProxyLocation = "RESIDENTIAL_KR"
	ProxyResidentialSA  ProxyLocation = "RESIDENTIAL_SA"
	ProxyResidentialISP ProxyLocation = "RESIDENTIAL_ISP"
	ProxyNone           ProxyLocation = "NONE"
)

// GeoTarget asks for a proxy in a country, and optionally a subdivision and a
// city. Country is a two-letter code (US, GB, DE, ...).
type GeoTarget struct {
	Country     string  `json:"country"`
	Subdivision *string `json:"subdivision,omitempty"`
	City        *string `json:"city,omitempty"`
}

// Proxy is the value of a proxy_location field, which on the wire is a preset
// string, a GeoTarget object, or (for self-hosted servers) a free-form object
// such as {"url": "http://user:pw@host:port"}. Exactly one of Location, Geo
// and Custom is set; build one with NewProxy, NewGeoProxy or NewCustomProxy.
type Proxy struct {
	Location ProxyLocation
	Geo      *GeoTarget
	Custom   json.RawMessage
}

// NewProxy returns a Proxy for a preset; NewProxy(ProxyNone) turns the proxy off.
func NewProxy(loc ProxyLocation) *Proxy { return &Proxy{Location: loc} }

// NewGeoProxy returns a Proxy targeting a country, subdivision and city.
func NewGeoProxy(g GeoTarget) *Proxy { return &Proxy{Geo: &g} }

// NewCustomProxy returns a Proxy carrying a free-form JSON object, as accepted
// by self-hosted servers.
func NewCustomProxy(obj json.RawMessage) *Proxy { return &Proxy{Custom: obj} }

// MarshalJSON implements json.Marshaler.
func (p Proxy) MarshalJSON() ([]byte, error) {
	switch {
	case p.Geo != nil:
		return json.Marshal(p.Geo)
	case len(p.Custom) > 0:
		return compactJSON(p.Custom)
	case p.Location != "":
		return json.Marshal(string(p.Location))
	}
	return []byte("null"), nil
}

// UnmarshalJSON implements json.Unmarshaler. An object with a "country" key is
// a GeoTarget; any other object is kept in Custom.
func (p *Proxy) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*p = Proxy{Location: ProxyLocation(s)}
		return nil
	case len(data) > 0 && data[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(data, &probe); err != nil {
			return err
		}
		if _, ok := probe["country"]; ok {
			var g GeoTarget
			if err := json.Unmarshal(data, &g); err == nil {
				*p = Proxy{Geo: &g}
				return nil
			}
		}
		*p = Proxy{Custom: append(json.RawMessage(nil), data...)}
		return nil
	}
	return fmt.Errorf("skyvern: proxy_location must be a string, an object or null, got %.32s", data)
}

// String returns the preset name, or the JSON form of a GeoTarget or custom proxy.
func (p Proxy) String() string {
	if p.Location != "" && p.Geo == nil && len(p.Custom) == 0 {
		return string(p.Location)
	}
	b, _ := p.MarshalJSON()
	return string(b)
}

func compactJSON(raw json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// FileInfo describes a file a run downloaded.
type FileInfo struct {
	URL        string  `json:"url"`
	Checksum   *string `json:"checksum,omitempty"`
	Filename   *string `json:"filename,omitempty"`
	FileSize   *int64  `json:"file_size,omitempty"`
	ModifiedAt *Time   `json:"modified_at,omitempty"`
	ArtifactID *string `json:"artifact_id,omitempty"`
}

// ScriptRun describes the generated script a run executed, if any.
type ScriptRun struct {
	AIFallbackTriggered bool    `json:"ai_fallback_triggered"`
	ScriptID            *string `json:"script_id,omitempty"`
	ScriptRevisionID    *string `json:"script_revision_id,omitempty"`
}

// Ptr returns a pointer to v. Request fields that the server distinguishes
// from "unset" are pointers; Ptr fills them inline.
func Ptr[T any](v T) *T { return &v }

// isBlank reports whether s has no visible characters.
func isBlank(s string) bool { return strings.TrimSpace(s) == "" }
