package skyvern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
)

// ArtifactType is the kind of an Artifact. Newer servers may send values
// not listed here.
type ArtifactType string

// Artifact types Skyvern knows.
const (
	ArtifactTypeRecording                   ArtifactType = "recording"
	ArtifactTypeAudio                       ArtifactType = "audio"
	ArtifactTypeSessionReplay               ArtifactType = "session_replay"
	ArtifactTypeEvalScore                   ArtifactType = "eval_score"
	ArtifactTypeEvalTrajectory              ArtifactType = "eval_trajectory"
	ArtifactTypeEvalRubrics                 ArtifactType = "eval_rubrics"
	ArtifactTypeBrowserConsoleLog           ArtifactType = "browser_console_log"
	ArtifactTypeBrowserSessionActionLog     ArtifactType = "browser_session_action_log"
	ArtifactTypeSkyvernLog                  ArtifactType = "skyvern_log"
	ArtifactTypeSkyvernLogRaw               ArtifactType = "skyvern_log_raw"
	ArtifactTypeScreenshot                  ArtifactType = "screenshot"
	ArtifactTypeScreenshotLLM               ArtifactType = "screenshot_llm"
	ArtifactTypeScreenshotAction            ArtifactType = "screenshot_action"
	ArtifactTypeScreenshotFinal             ArtifactType = "screenshot_final"
	ArtifactTypeScreenshotProxy             ArtifactType = "screenshot_proxy"
	ArtifactTypeLLMPrompt                   ArtifactType = "llm_prompt"
	ArtifactTypeLLMRequest                  ArtifactType = "llm_request"
	ArtifactTypeLLMResponse                 ArtifactType = "llm_response"
	ArtifactTypeLLMResponseParsed           ArtifactType = "llm_response_parsed"
	ArtifactTypeLLMResponseRendered         ArtifactType = "llm_response_rendered"
	ArtifactTypeVisibleElementsIDCSSMap     ArtifactType = "visible_elements_id_css_map"
	ArtifactTypeVisibleElementsIDFrameMap   ArtifactType = "visible_elements_id_frame_map"
	ArtifactTypeVisibleElementsTree         ArtifactType = "visible_elements_tree"
	ArtifactTypeVisibleElementsTreeTrimmed  ArtifactType = "visible_elements_tree_trimmed"
	ArtifactTypeVisibleElementsTreeInPrompt ArtifactType = "visible_elements_tree_in_prompt"
	ArtifactTypeHashedHrefMap               ArtifactType = "hashed_href_map"
	ArtifactTypeVisibleElementsIDXPathMap   ArtifactType = "visible_elements_id_xpath_map"
	ArtifactTypeHTML                        ArtifactType = "html"
	ArtifactTypeHTMLScrape                  ArtifactType = "html_scrape"
	ArtifactTypeHTMLAction                  ArtifactType = "html_action"
	ArtifactTypeTrace                       ArtifactType = "trace"
	ArtifactTypeHAR                         ArtifactType = "har"
	ArtifactTypeScriptFile                  ArtifactType = "script_file"
	ArtifactTypePDF                         ArtifactType = "pdf"
	ArtifactTypeStepArchive                 ArtifactType = "step_archive"
	ArtifactTypeTaskArchive                 ArtifactType = "task_archive"
	ArtifactTypeDownload                    ArtifactType = "download"
)

// Artifact is a file Skyvern kept from a run: its recording, screenshots,
// logs, the LLM exchanges, downloaded files and more (Skyvern's Artifact).
// Fetch its content with DownloadArtifact.
type Artifact struct {
	ArtifactID   string       `json:"artifact_id"`
	ArtifactType ArtifactType `json:"artifact_type"`
	// URI is the storage location (s3://…, file://…); it is not fetchable
	// as such: SignedURL is.
	URI string `json:"uri"`
	// BundleKey names the file inside a bundled artifact.
	BundleKey string `json:"bundle_key,omitempty"`
	Checksum  string `json:"checksum,omitempty"`
	// FileSize is the size in bytes, when the server recorded it.
	FileSize           *int64 `json:"file_size,omitempty"`
	TaskID             string `json:"task_id,omitempty"`
	StepID             string `json:"step_id,omitempty"`
	WorkflowRunID      string `json:"workflow_run_id,omitempty"`
	WorkflowRunBlockID string `json:"workflow_run_block_id,omitempty"`
	RunID              string `json:"run_id,omitempty"`
	BrowserSessionID   string `json:"browser_session_id,omitempty"`
	ObserverCruiseID   string `json:"observer_cruise_id,omitempty"`
	ObserverThoughtID  string `json:"observer_thought_id,omitempty"`
	AISuggestionID     string `json:"ai_suggestion_id,omitempty"`
	// SignedURL is a presigned link to the content on the storage host. It
	// expires (typically within hours); DownloadArtifact gets a fresh one
	// when it has.
	SignedURL string `json:"signed_url,omitempty"`
	// Archived marks content moved to cold storage.
	Archived       bool   `json:"archived,omitempty"`
	OrganizationID string `json:"organization_id"`
	CreatedAt      Time   `json:"created_at"`
	ModifiedAt     Time   `json:"modified_at"`
}

// GetRunArtifactsParams filters GetRunArtifacts.
type GetRunArtifactsParams struct {
	// ArtifactTypes keeps artifacts of these types (sent as repeated
	// artifact_type parameters); empty means all.
	ArtifactTypes []ArtifactType
}

// GetRunArtifacts lists the artifacts of a task or workflow run, each with a
// fresh SignedURL (GET /v1/runs/{id}/artifacts). params may be nil. An
// unknown run id gives an empty list, as the server answers.
func (c *Client) GetRunArtifacts(ctx context.Context, runID string, params *GetRunArtifactsParams, opts ...RequestOption) ([]*Artifact, error) {
	if err := requireID("run_id", runID); err != nil {
		return nil, err
	}
	q := url.Values{}
	if params != nil {
		for i, t := range params.ArtifactTypes {
			if isBlank(string(t)) {
				return nil, &InvalidRequestError{Field: fmt.Sprintf("artifact_type[%d]", i), Reason: "must not be empty"}
			}
			q.Add("artifact_type", string(t))
		}
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "runs", runID, "artifacts"), query: q, class: retryRead}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var list []*Artifact
	if err := decodeJSON(call, resp.body, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// DefaultMaxDownloadBytes bounds what DownloadArtifact, DownloadRunFile and
// DownloadRecording write unless WithMaxDownloadBytes says otherwise.
const DefaultMaxDownloadBytes = 1 << 30

// WithMaxDownloadBytes bounds the content a download call writes (default
// DefaultMaxDownloadBytes; 0 selects the default, a negative n is invalid).
// Larger content fails with ErrResponseTooLarge, refused unread when its
// Content-Length says so, else after at most n bytes were written.
func WithMaxDownloadBytes(n int64) RequestOption {
	return requestOption(func(rc *requestConfig) error {
		if n < 0 {
			return invalidOption("WithMaxDownloadBytes", "%d must not be negative", n)
		}
		rc.maxDownloadBytes = n
		return nil
	})
}

// DownloadError is an error status from the storage host that serves a
// presigned URL. It matches ErrForbidden for 401 and 403 and ErrNotFound for
// 404.
type DownloadError struct {
	// StatusCode is the storage host's HTTP status.
	StatusCode int
	// Host is the storage host; the URL itself is not kept, since its
	// query is a credential.
	Host string
	// Detail is the start of the host's error body (S3 sends XML).
	Detail string
	// Refreshed reports whether the URL had already been refreshed once.
	Refreshed bool
}

func (e *DownloadError) Error() string {
	msg := fmt.Sprintf("skyvern: download from %s: HTTP %d", e.Host, e.StatusCode)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Refreshed {
		msg += " (after refreshing the URL)"
	}
	return msg
}

// Is matches the sentinel that fits the status code.
func (e *DownloadError) Is(target error) bool {
	switch target {
	case ErrForbidden:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

// expired reports whether the storage host's refusal may mean that the
// presigned URL expired: S3 answers 403 (AccessDenied, "Request has
// expired"), Google Cloud Storage 400 (ExpiredToken) and Azure 403
// (AuthenticationFailed). Those are the statuses that earn one refresh.
func (e *DownloadError) expired() bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return false
}

// DownloadArtifact writes an artifact's content to w and returns the number
// of bytes written. It fetches a.SignedURL from the storage host, streaming,
// bounded by WithMaxDownloadBytes.
//
// The API key is sent only to the API's own base URL: a signed URL on any
// other host gets no x-api-key, not even through a redirect. When the
// storage host refuses the URL with 400, 401 or 403 before sending content
// (what an expired presigned URL gets), the artifact is listed again
// (GetRunArtifacts for its run and type) and the fresh URL is tried once;
// a second refusal is returned as a *DownloadError. A failure after content
// began to arrive is not retried, since w already holds part of it.
func (c *Client) DownloadArtifact(ctx context.Context, a *Artifact, w io.Writer, opts ...RequestOption) (int64, error) {
	if a == nil {
		return 0, &InvalidRequestError{Field: "artifact", Reason: "must not be nil"}
	}
	runID := firstNonEmpty(a.RunID, a.WorkflowRunID, a.TaskID)
	var refresh func(context.Context) (string, error)
	if runID != "" && a.ArtifactID != "" {
		refresh = func(ctx context.Context) (string, error) {
			list, err := c.GetRunArtifacts(ctx, runID, &GetRunArtifactsParams{ArtifactTypes: []ArtifactType{a.ArtifactType}}, opts...)
			if err != nil {
				return "", err
			}
			for _, fresh := range list {
				if fresh.ArtifactID == a.ArtifactID {
					return fresh.SignedURL, nil
				}
			}
			return "", fmt.Errorf("%w: artifact %s is no longer listed for run %s", ErrNotFound, a.ArtifactID, runID)
		}
	}
	return c.downloadSigned(ctx, a.SignedURL, refresh, w, opts)
}

// DownloadRunFile writes one of a run's downloaded files (an entry of
// Run.DownloadedFiles, or of a webhook payload's downloaded_files) to w, with
// DownloadArtifact's rules. An expired URL is refreshed by reading the run
// again (GetRun) and taking the entry with the same artifact id, else the
// same file name, else the same URL path.
func (c *Client) DownloadRunFile(ctx context.Context, runID string, f *FileInfo, w io.Writer, opts ...RequestOption) (int64, error) {
	if err := requireID("run_id", runID); err != nil {
		return 0, err
	}
	if f == nil {
		return 0, &InvalidRequestError{Field: "file", Reason: "must not be nil"}
	}
	refresh := func(ctx context.Context) (string, error) {
		run, err := c.GetRun(ctx, runID, opts...)
		if err != nil {
			return "", err
		}
		if fresh := matchFileInfo(run.DownloadedFiles, f); fresh != nil {
			return fresh.URL, nil
		}
		return "", fmt.Errorf("%w: run %s no longer lists the file", ErrNotFound, runID)
	}
	return c.downloadSigned(ctx, f.URL, refresh, w, opts)
}

// DownloadRecording writes a run's browser recording to w, with
// DownloadArtifact's rules. It uses run.RecordingURL, refreshed by GetRun
// when expired; a run without one falls back to its recording artifact
// (GetRunArtifacts). A run with neither gives ErrNoDownloadURL.
func (c *Client) DownloadRecording(ctx context.Context, run *Run, w io.Writer, opts ...RequestOption) (int64, error) {
	if run == nil {
		return 0, &InvalidRequestError{Field: "run", Reason: "must not be nil"}
	}
	if err := requireID("run_id", run.RunID); err != nil {
		return 0, err
	}
	if run.RecordingURL == "" {
		list, err := c.GetRunArtifacts(ctx, run.RunID, &GetRunArtifactsParams{ArtifactTypes: []ArtifactType{ArtifactTypeRecording}}, opts...)
		if err != nil {
			return 0, err
		}
		if len(list) == 0 {
			return 0, fmt.Errorf("%w: run %s has no recording", ErrNoDownloadURL, run.RunID)
		}
		return c.DownloadArtifact(ctx, list[0], w, opts...)
	}
	refresh := func(ctx context.Context) (string, error) {
		fresh, err := c.GetRun(ctx, run.RunID, opts...)
		if err != nil {
			return "", err
		}
		return fresh.RecordingURL, nil
	}
	return c.downloadSigned(ctx, run.RecordingURL, refresh, w, opts)
}

func matchFileInfo(files []FileInfo, want *FileInfo) *FileInfo {
	for _, same := range []func(f *FileInfo) bool{
		func(f *FileInfo) bool {
			return want.ArtifactID != nil && f.ArtifactID != nil && *f.ArtifactID == *want.ArtifactID
		},
		func(f *FileInfo) bool {
			return want.Filename != nil && f.Filename != nil && *f.Filename == *want.Filename
		},
		func(f *FileInfo) bool { return urlPath(f.URL) != "" && urlPath(f.URL) == urlPath(want.URL) },
	} {
		for i := range files {
			if same(&files[i]) {
				return &files[i]
			}
		}
	}
	return nil
}

// urlPath is a URL without its query, the part of a presigned URL that does
// not change when it is signed again.
func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// downloadSigned fetches a presigned URL into w and, when the storage host
// refuses it as an expired URL would be refused, asks refresh for a new one
// and tries once more. refresh may be nil.
func (c *Client) downloadSigned(ctx context.Context, rawURL string, refresh func(context.Context) (string, error), w io.Writer, opts []RequestOption) (int64, error) {
	if err := contextErr(ctx); err != nil {
		return 0, err
	}
	if w == nil {
		return 0, &InvalidRequestError{Field: "writer", Reason: "must not be nil"}
	}
	if rawURL == "" {
		return 0, ErrNoDownloadURL
	}
	rc := c.newRequestConfig(opts)
	limit := rc.maxDownloadBytes
	if limit <= 0 {
		limit = DefaultMaxDownloadBytes
	}
	n, err := c.fetchSigned(ctx, rawURL, w, limit, &rc)
	var de *DownloadError
	if !errors.As(err, &de) || !de.expired() || refresh == nil {
		return n, err
	}
	fresh, rerr := refresh(ctx)
	if rerr != nil {
		return 0, fmt.Errorf("%w; refreshing the URL failed: %w", err, rerr)
	}
	if fresh == "" || fresh == rawURL {
		return 0, err
	}
	n, err = c.fetchSigned(ctx, fresh, w, limit, &rc)
	if errors.As(err, &de) {
		de.Refreshed = true
	}
	return n, err
}

// fetchSigned makes one download: GET with the client's retries for reads
// (connection errors, 429, 5xx before any content), streaming the body into
// w up to limit bytes.
func (c *Client) fetchSigned(ctx context.Context, rawURL string, w io.Writer, limit int64, rc *requestConfig) (int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, &InvalidRequestError{Field: "url", Reason: "must be an absolute http(s) URL"}
	}
	where := u.Scheme + "://" + u.Host + u.EscapedPath() // never the signed query
	if rc.err != nil {
		return 0, rc.err
	}
	st := &attemptState{class: retryRead, download: true, maxRetries: c.maxRetries, maxRetryAfter: c.maxRetryAfter}
	if rc.call.maxRetries != nil {
		st.maxRetries = *rc.call.maxRetries
	}
	// Content can be large: only an explicit per-call timeout bounds an
	// attempt; ctx bounds the whole, and the default transport's
	// response-header timeout catches a host that never answers.
	if rc.call.requestTimeout != nil {
		st.timeout = *rc.call.requestTimeout
	}
	req, err := retryablehttp.NewRequestWithContext(withAttemptState(ctx, st), http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, fmt.Errorf("skyvern: download %s: %w", where, err)
	}
	req.Header.Set("User-Agent", c.headers.Get("User-Agent"))
	if c.sameAPIOrigin(u) {
		req.Header.Set("X-Api-Key", c.apiKey)
	}
	resp, err := c.storageClient().Do(req)
	if err != nil {
		return 0, fmt.Errorf("skyvern: download %s: %w", where, redactURLError(err, where))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := readLimited(resp.Body, -1, maxErrorBodyBytes)
		return 0, &DownloadError{StatusCode: resp.StatusCode, Host: u.Host, Detail: truncateText(strings.TrimSpace(string(body)))}
	}
	if resp.ContentLength > limit {
		return 0, fmt.Errorf("skyvern: download %s: %w: Content-Length %d exceeds the limit of %d bytes", where, ErrResponseTooLarge, resp.ContentLength, limit)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit))
	if err != nil {
		return n, fmt.Errorf("skyvern: download %s: %w", where, err)
	}
	if n == limit {
		var probe [1]byte
		if m, _ := resp.Body.Read(probe[:]); m > 0 {
			return n, fmt.Errorf("skyvern: download %s: %w: more than %d bytes", where, ErrResponseTooLarge, limit)
		}
	}
	return n, nil
}

// sameAPIOrigin reports whether u is under the API's base URL, the only
// place the API key may go.
func (c *Client) sameAPIOrigin(u *url.URL) bool {
	if !strings.EqualFold(u.Scheme, c.baseURL.Scheme) || !strings.EqualFold(u.Host, c.baseURL.Host) {
		return false
	}
	base := c.baseURL.Path
	return base == "" || u.Path == base || strings.HasPrefix(u.Path, base+"/")
}

// storageClient is the client's retry machinery, without its logger, with a
// redirect policy that drops the API key whenever a redirect leaves the
// API's origin (net/http strips Authorization and cookies on such hops, but
// not x-api-key).
func (c *Client) storageClient() *retryablehttp.Client {
	// The client's redirect policy lets a download leave the API host and
	// drops the key when it does (attemptState.download).
	hc := *c.retry.HTTPClient
	// No logger: retryablehttp logs each request's URL, and a presigned
	// URL's query is a credential for the object.
	return &retryablehttp.Client{
		HTTPClient:   &hc,
		RetryWaitMin: c.retry.RetryWaitMin,
		RetryWaitMax: c.retry.RetryWaitMax,
		RetryMax:     c.retry.RetryMax,
		CheckRetry:   c.retry.CheckRetry,
		Backoff:      c.retry.Backoff,
		ErrorHandler: c.retry.ErrorHandler,
	}
}

// redactURLError replaces the URL inside a *url.Error, whose query would
// otherwise print the presigned signature.
func redactURLError(err error, safe string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = safe
	}
	return err
}
