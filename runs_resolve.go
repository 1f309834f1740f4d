package skyvern

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/skyvern-go/skyvern/internal/keptjson"
)

// ResolveClockSkew is how far the server's clock may be behind the
// client's: ResolveOutcome looks at runs created from this long before the
// ambiguous attempt started.
const ResolveClockSkew = 2 * time.Minute

// resolveLedgerTTL is how long a client remembers the runs it handed to
// callers and its unresolved calls; see Client.ResolveOutcome.
const resolveLedgerTTL = time.Hour

// resolvePollInterval is how often a resolution checks whether identical
// calls of the same client are still in flight.
const resolvePollInterval = 20 * time.Millisecond

// settleFactor times the attempt timeout, counted from the failure, is the
// settle time: see ResolveOutcome.
const settleFactor = 2

// A listing that fails transiently is tried again this often, waiting
// listingRetryWait longer each time.
const (
	maxFailedListings = 3
	listingRetryWait  = 100 * time.Millisecond
)

// NotCreatedError is ResolveOutcome's proof that an ambiguous call created
// no run: errors.Is(err, ErrNotCreated) holds and sending the request again
// cannot start a second run. It deliberately does not match
// ErrOutcomeUnknown.
type NotCreatedError struct {
	// Outcome is the unknown outcome that was resolved.
	Outcome *OutcomeUnknownError
	// CheckedAt is when the last listing that found no run began, after the
	// settle time had passed.
	CheckedAt time.Time
}

// Error implements error.
func (e *NotCreatedError) Error() string {
	return fmt.Sprintf("skyvern: %s %s: no run was created (checked at %s); sending the request again is safe",
		e.Outcome.Method, e.Outcome.Path, e.CheckedAt.UTC().Format(time.RFC3339))
}

// Is reports true for ErrNotCreated.
func (e *NotCreatedError) Is(target error) bool { return target == ErrNotCreated }

// UnresolvedOutcomeError is ResolveOutcome's answer when it cannot decide
// whether the ambiguous call created a run. errors.Is(err,
// ErrOutcomeUnknown) holds, and so does errors.Is for the cause (a refused
// listing's *APIError, ctx.Err()).
type UnresolvedOutcomeError struct {
	// Outcome is the unknown outcome that could not be resolved.
	Outcome *OutcomeUnknownError
	// Reason says why.
	Reason string
	// Candidates lists the ids of runs that match the request and that the
	// client could not tell apart.
	Candidates []string
	// Cause is the failure that stopped the resolution, if any.
	Cause error
}

// Error implements error.
func (e *UnresolvedOutcomeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "skyvern: %s %s: outcome still unknown: %s", e.Outcome.Method, e.Outcome.Path, e.Reason)
	if len(e.Candidates) > 0 {
		fmt.Fprintf(&b, " (candidates: %s)", strings.Join(e.Candidates, ", "))
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	return b.String()
}

// Is reports true for ErrOutcomeUnknown.
func (e *UnresolvedOutcomeError) Is(target error) bool { return target == ErrOutcomeUnknown }

// Unwrap returns the original unknown outcome and the cause.
func (e *UnresolvedOutcomeError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Outcome}
	}
	return []error{e.Outcome, e.Cause}
}

// WithOutcomeResolution makes the run-creating calls (RunTask, RunWorkflow,
// RunLogin, RunDownloadFiles, RetryWorkflowRun) resolve an ambiguous
// failure themselves: the call returns the run the failed attempt created,
// or, once ResolveOutcome proves that none was, sends the request again, at
// most maxResends times. The caller then sees ErrOutcomeUnknown only when
// the outcome cannot be decided (an *UnresolvedOutcomeError), and an error
// matching ErrNotCreated when the resends are used up. maxResends 0
// resolves without ever resending; a negative value is invalid.
//
// Given to NewClient it turns automatic resolution on for every such call
// of the client; given to one call it sets the bound for that call. It is
// off by default, since resolving costs list and get calls and, when
// nothing was created, waits out the settle time (twice the attempt
// timeout, see ResolveOutcome): leave the call's ctx room for it; a ctx
// that ends first leaves the outcome unknown. The list and get calls use
// the client's settings, not the call's options.
func WithOutcomeResolution(maxResends int) SharedOption {
	return SharedOption{set: func(cs *callSettings) error {
		if maxResends < 0 {
			return invalidOption("WithOutcomeResolution", "%d must not be negative", maxResends)
		}
		cs.autoResolve = &maxResends
		return nil
	}}
}

// createRun sends a run-creating call, keeps the client's ledger of such
// calls, and resolves an unknown outcome when automatic resolution is on.
func (c *Client) createRun(ctx context.Context, call apiCall, rc *requestConfig) (*Run, error) {
	var payload []byte
	if call.body != nil { // a route without a body (RetryWorkflowRun) gets none
		var err error
		if payload, err = keptjson.Marshal(call.body); err != nil {
			return nil, fmt.Errorf("skyvern: %s %s: encoding request: %w", call.method, call.path, err)
		}
		call.body = json.RawMessage(payload)
	}
	fp := fingerprint(call.path, payload)
	resends := -1
	if c.autoResolve != nil {
		resends = *c.autoResolve
	}
	if rc.call.autoResolve != nil {
		resends = *rc.call.autoResolve
	}
	for sent := 0; ; sent++ {
		c.ledger.begin(fp)
		resp, err := c.do(ctx, call, rc)
		if err == nil {
			run, err := decodeRun(call, resp.body)
			runID := ""
			if run != nil {
				runID = run.RunID
			}
			c.ledger.end(fp, runID, nil)
			return run, err
		}
		var ue *OutcomeUnknownError
		if !errors.As(err, &ue) {
			c.ledger.end(fp, "", nil)
			return nil, err
		}
		c.ledger.end(fp, "", ue)
		if resends < 0 {
			return nil, err
		}
		run, rerr := c.ResolveOutcome(ctx, ue)
		if rerr == nil {
			return run, nil
		}
		if !errors.Is(rerr, ErrNotCreated) || sent >= resends {
			return nil, rerr
		}
	}
}

// ResolveOutcome finds out what an ambiguous RunTask, RunWorkflow,
// RunLogin, RunDownloadFiles or RetryWorkflowRun did (what each of the last
// three can be matched by is in its godoc).
// err is the error the call returned (an *OutcomeUnknownError, possibly
// wrapped); opts apply to the list and get calls ResolveOutcome makes. It
// returns:
//
//   - the run the call created, when exactly one run can be attributed to it;
//   - an error matching ErrNotCreated (a *NotCreatedError) once it is
//     established that the call created no run and none can still appear,
//     so that sending it again cannot duplicate the run;
//   - an error matching ErrOutcomeUnknown (an *UnresolvedOutcomeError) that
//     says why it could not decide and lists the candidate runs: several
//     runs match a request that this client did not send as often (another
//     process sent the same request), the listing was refused or failed, or
//     ctx ended.
//
// How runs are found. A workflow run carries the unique id RunWorkflow put
// in its run_metadata (ClientRequestIDKey): ResolveOutcome lists the
// workflow's recent runs and reads each one's echoed run_request. A task
// run carries no metadata: ResolveOutcome lists recent runs of the task's
// type (searching for its title or the host of its URL when one is long
// enough to search for) and compares each candidate's echoed run_request
// with what was sent, allowing for the server's URL normalization and
// defaults; so does a workflow run sent without the id (its caller's
// run_metadata was full). The tags filter is not used: some organizations
// get 403 for it. "Recent" means created at most ResolveClockSkew before the
// first attempt started, by the client's clock.
//
// Identical requests. Runs that this client handed to other callers are
// never candidates. While another identical call of this client is still in
// flight, ResolveOutcome waits for it. Identical ambiguous calls of the
// same client are interchangeable: each resolution takes a different
// matching run while there are some, and the rest are not created, so runs
// and calls stay one to one. More matching runs than such calls means that
// someone else sent the same request: undecidable.
//
// When "none can still appear". A server may still be processing a request
// whose client gave up: a timed-out attempt, a proxy's 502 or a dropped
// connection say nothing about the request behind them. ResolveOutcome
// therefore declares a run absent only from a listing that began a settle
// time after the call failed, the settle time being twice the call's
// per-attempt timeout (WithRequestTimeout, or DefaultRequestTimeout when the
// call had none). The reasoning: the attempt timeout is the time the client
// grants the server to create a run and answer; Skyvern creates the run
// early in the request and runs it asynchronously, so a request still
// unprocessed twice that long after the client gave up (three times the
// timeout after a timed-out attempt began) is one the server has dropped;
// the second timeout is margin for a loaded server. If no run shows
// up at first, ResolveOutcome therefore blocks until the settle time has
// passed, bounded by ctx. Residual risk: a server that stalls longer than
// that and then still creates the run (a request stuck in a queue in front
// of it) makes a resend after ErrNotCreated a duplicate; so can a run
// created more than ResolveClockSkew behind the client's clock, or, for
// tasks, another process sending the identical request at the same time
// while this call created nothing (its run is then taken for this call's).
// The client remembers runs and unresolved calls for an hour, so resolve
// an error within that time.
func (c *Client) ResolveOutcome(ctx context.Context, err error, opts ...RequestOption) (*Run, error) {
	var ue *OutcomeUnknownError
	if !errors.As(err, &ue) {
		return nil, &InvalidRequestError{Field: "err", Reason: "is not an unknown outcome (*OutcomeUnknownError)"}
	}
	kind, pathParams := c.creationFor(ue.Method, ue.Path)
	if kind == nil {
		return nil, &InvalidRequestError{Field: "err", Reason: fmt.Sprintf("%s %s does not create a run", ue.Method, ue.Path)}
	}
	var sent map[string]any
	if !kind.noBody {
		if err := decodeLoose(ue.RequestBody, &sent); err != nil {
			return nil, &InvalidRequestError{Field: "err", Reason: "carries no decodable request body"}
		}
	}
	r := &resolver{c: c, ue: ue, kind: kind, sent: sent, pathParams: pathParams, opts: opts, fp: fingerprint(ue.Path, ue.RequestBody)}
	run, rerr := r.resolve(ctx)
	if rerr == nil || errors.Is(rerr, ErrNotCreated) {
		c.ledger.forget(r.fp, ue)
	}
	return run, rerr
}

// creation describes a call that creates a run, so that ResolveOutcome can
// find that run. A new run-creating endpoint adds an entry here.
type creation struct {
	// path is the route after the base path; a "*" segment is an id,
	// handed to find unescaped.
	path string
	// noBody: the route takes no request body.
	noBody bool
	// find, if set, replaces the listing: it returns the matching runs,
	// newest first, itself.
	find func(ctx context.Context, r *resolver) ([]*Run, error)
	// listing returns the filters that narrow the runs such a request
	// could have created.
	listing func(sent map[string]any) ListRunsParams
	// requestID returns the client request id the run would carry.
	requestID func(run *Run) string
	// matches reports whether a run's echoed run_request is the request
	// that was sent.
	matches func(sent, echoed map[string]any) bool
	// ruledOut, if set, rejects a listed run from its summary alone,
	// saving the get call.
	ruledOut func(sent map[string]any, item *RunListItem) bool
	// verify, if set, checks a run whose echo matches against what the
	// echo leaves out.
	verify func(ctx context.Context, r *resolver, run *Run) (bool, error)
}

var creations = []creation{
	{path: "/v1/run/tasks", listing: taskListing, matches: taskRequestMatches, ruledOut: taskTitleDiffers},
	{path: "/v1/run/workflows", listing: workflowListing, requestID: runClientRequestID, matches: workflowRequestMatches},
	{path: "/v1/run/tasks/login", listing: blockRunListing, matches: blockRunMatcher(loginWorkflowTitle),
		ruledOut: blockRunTitleDiffers(loginWorkflowTitle), verify: verifyBlockRunWorkflow(loginBlockFields)},
	{path: "/v1/run/tasks/download_files", listing: blockRunListing, matches: blockRunMatcher(downloadFilesWorkflowTitle),
		ruledOut: blockRunTitleDiffers(downloadFilesWorkflowTitle), verify: verifyBlockRunWorkflow(downloadBlockFields)},
	{path: "/v1/workflows/runs/*/retry", noBody: true, find: findWorkflowRetry},
}

// creationFor returns the creation a call's method and escaped path belong
// to, and the path's ids.
func (c *Client) creationFor(method, path string) (*creation, []string) {
	if method != http.MethodPost {
		return nil, nil
	}
	rel := strings.Split(strings.TrimPrefix(path, c.baseURL.Path), "/")
	for i := range creations {
		if params, ok := matchCreationPath(strings.Split(creations[i].path, "/"), rel); ok {
			return &creations[i], params
		}
	}
	return nil, nil
}

// matchCreationPath matches escaped path segments against a pattern whose
// "*" segments stand for one non-empty id each.
func matchCreationPath(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params []string
	for i, p := range pattern {
		if p != "*" {
			if p != segs[i] {
				return nil, false
			}
			continue
		}
		id, err := url.PathUnescape(segs[i])
		if err != nil || id == "" {
			return nil, false
		}
		params = append(params, id)
	}
	return params, true
}

// resolver is one resolution in progress.
type resolver struct {
	c          *Client
	ue         *OutcomeUnknownError
	kind       *creation
	sent       map[string]any
	pathParams []string
	opts       []RequestOption
	fp         string
}

func (r *resolver) resolve(ctx context.Context) (*Run, error) {
	timeout := r.ue.AttemptTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	settleAt := r.ue.FailedAt.Add(settleFactor * timeout)
	failedListings := 0
	for {
		if err := r.waitForIdenticalCalls(ctx); err != nil {
			return nil, r.unresolved("the context ended", nil, err)
		}
		began := time.Now()
		found, err := r.candidates(ctx)
		if err != nil {
			// Listing is a read: a transient failure (after the client's
			// own retries) is worth a few more rounds.
			if failedListings < maxFailedListings && ctx.Err() == nil && transientPollError(err) {
				failedListings++
				if serr := sleepCtx(ctx, time.Duration(failedListings)*listingRetryWait); serr != nil {
					return nil, r.unresolved("the context ended", nil, serr)
				}
				continue
			}
			var undecidable *undecidableError
			if errors.As(err, &undecidable) {
				return nil, r.unresolved(undecidable.reason, nil, nil)
			}
			reason := "listing the runs failed"
			if errors.Is(err, ErrForbidden) {
				reason = "the server refused to list runs"
			}
			return nil, r.unresolved(reason, nil, err)
		}
		if len(found) > 0 {
			run, candidates, ok := r.attribute(found)
			if ok {
				return run, nil
			}
			if candidates != nil {
				return nil, r.unresolved(fmt.Sprintf("%d runs match a request this client has %d unresolved calls for: someone else sent the same request",
					len(candidates), r.c.ledger.pendingCount(r.fp)), candidates, nil)
			}
			continue // another resolution took the run meanwhile: look again
		}
		if !began.Before(settleAt) {
			return nil, &NotCreatedError{Outcome: r.ue, CheckedAt: began}
		}
		if err := sleepCtx(ctx, time.Until(settleAt)); err != nil {
			return nil, r.unresolved("the context ended before the settle time passed", nil, err)
		}
	}
}

func (r *resolver) unresolved(reason string, candidates []string, cause error) error {
	return &UnresolvedOutcomeError{Outcome: r.ue, Reason: reason, Candidates: candidates, Cause: cause}
}

// waitForIdenticalCalls waits until no identical call of this client is in
// flight: its run, if it gets one, is its own.
func (r *resolver) waitForIdenticalCalls(ctx context.Context) error {
	for r.c.ledger.inFlight(r.fp) > 0 {
		if err := sleepCtx(ctx, resolvePollInterval); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// attribute picks this call's run among the matching runs. It returns
// ok=false with the candidates when the choice is undecidable, and with nil
// candidates when another resolution claimed the run first.
func (r *resolver) attribute(found []*Run) (*Run, []string, bool) {
	ids := make([]string, len(found))
	for i, run := range found {
		ids[i] = run.RunID
	}
	if r.ue.ClientRequestID != "" && r.kind.requestID != nil {
		r.c.ledger.claim(found[0].RunID, r.ue) // the id is this call's alone
		return found[0], nil, true
	}
	if len(found) > max(r.c.ledger.pendingCount(r.fp), 1) {
		return nil, ids, false
	}
	// Oldest first, so that identical calls take runs in creation order.
	run := found[len(found)-1]
	if !r.c.ledger.claim(run.RunID, r.ue) {
		return nil, nil, false
	}
	return run, nil, true
}

// candidates lists the recent runs the request could have created, minus
// those handed to other callers, and returns the ones whose echoed request
// matches, newest first.
func (r *resolver) candidates(ctx context.Context) ([]*Run, error) {
	if r.kind.find != nil {
		return r.kind.find(ctx, r)
	}
	params := r.kind.listing(r.sent)
	params.PageSize = MaxRunsPageSize
	from := r.windowStart()
	var found []*Run
	for item, err := range r.c.AllRuns(ctx, &params, r.opts...) {
		if err != nil {
			return nil, err
		}
		if item.CreatedAt.Before(from) {
			break // newest first: the rest is older still
		}
		if r.c.ledger.claimedElsewhere(item.RunID, r.ue) {
			continue
		}
		if r.kind.ruledOut != nil && r.kind.ruledOut(r.sent, item) {
			continue
		}
		run, err := r.getCandidate(ctx, item.RunID)
		if err != nil {
			return nil, err
		}
		if run == nil {
			continue
		}
		if r.kind.requestID != nil && r.ue.ClientRequestID != "" {
			// The id is unique to the call: the first run carrying it is
			// the call's, and the older ones need not be read.
			if r.kind.requestID(run) == r.ue.ClientRequestID {
				return []*Run{run}, nil
			}
			continue
		}
		var echoed map[string]any
		if decodeLoose(run.RunRequest, &echoed) != nil || echoed == nil || !r.kind.matches(r.sent, echoed) {
			continue
		}
		if r.kind.verify != nil {
			ok, err := r.kind.verify(ctx, r, run)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		found = append(found, run)
	}
	return found, nil
}

// windowStart is the creation time from which a run may be the call's.
func (r *resolver) windowStart() time.Time {
	from := r.ue.FailedAt
	if len(r.ue.AttemptStarts) > 0 {
		from = r.ue.AttemptStarts[0]
	}
	return from.Add(-ResolveClockSkew)
}

func taskListing(sent map[string]any) ListRunsParams {
	var p ListRunsParams
	engine, _ := sent["engine"].(string)
	publish, _ := sent["publish_workflow"].(bool)
	if t, ok := taskRunType(RunEngine(engine), publish); ok {
		p.RunTypes = []RunType{t}
	}
	title, _ := sent["title"].(string)
	rawURL, _ := sent["url"].(string)
	host := ""
	if u, err := url.Parse(normalizeRequestURL(rawURL)); err == nil && rawURL != "" {
		host = u.Hostname()
	}
	switch {
	case len([]rune(title)) >= minRunsSearchKeyLen:
		p.SearchKey = title
	case len(host) >= minRunsSearchKeyLen:
		p.SearchKey = host
	}
	return p
}

// taskTitleDiffers reports a listed task run whose title is not the one
// sent. Only a listed title is trusted: an untitled run may show one the
// server derived.
func taskTitleDiffers(sent map[string]any, item *RunListItem) bool {
	title, _ := sent["title"].(string)
	return title != "" && item.Title != "" && item.Title != title
}

// taskRunType is the run type a task with this engine gets.
func taskRunType(engine RunEngine, publish bool) (RunType, bool) {
	if publish {
		return RunTypeTaskV2, true
	}
	switch engine {
	case "", RunEngineSkyvernV1:
		return RunTypeTaskV1, true
	case RunEngineSkyvernV2:
		return RunTypeTaskV2, true
	case RunEngineSkyvernV3:
		return RunTypeTaskV3, true
	case RunEngineOpenAICUA:
		return RunTypeOpenAICUA, true
	case RunEngineAnthropicCUA:
		return RunTypeAnthropicCUA, true
	case RunEngineUITars:
		return RunTypeUITars, true
	case RunEngineYutoriNavigator:
		return RunTypeYutoriNavigator, true
	}
	return "", false
}

func workflowListing(sent map[string]any) ListRunsParams {
	p := ListRunsParams{RunTypes: []RunType{RunTypeWorkflowRun}}
	if id, _ := sent["workflow_id"].(string); id != "" {
		p.WorkflowPermanentIDs = []string{id}
	}
	return p
}

func runClientRequestID(run *Run) string {
	var echoed struct {
		RunMetadata map[string]string `json:"run_metadata"`
	}
	if json.Unmarshal(run.RunRequest, &echoed) != nil {
		return ""
	}
	return echoed.RunMetadata[ClientRequestIDKey]
}

// echoField says how to compare one field of a sent request with the
// server's echo of it.
type echoField struct {
	key string
	// sentKey is the field's name in the request, when not key.
	sentKey string
	url     bool // compared after the server's URL normalization
	// def is what the server records when the field is not sent; nil
	// means null.
	def any
	// inherited: the echo shows a value taken from elsewhere (the
	// workflow) when the field is not sent, so compare only sent values.
	inherited bool
}

// The fields of TaskRunRequest that get_run echoes.
var taskEchoFields = []echoField{
	{key: "prompt"}, {key: "url", url: true}, {key: "webhook_url", url: true},
	{key: "totp_identifier"}, {key: "totp_url", url: true}, {key: "proxy_location", def: string(ProxyResidential)},
	{key: "max_steps"}, {key: "data_extraction_schema"}, {key: "error_code_mapping"},
}

// The fields of WorkflowRunRequest that get_run echoes.
var workflowEchoFields = []echoField{
	{key: "workflow_id"}, {key: "parameters", def: map[string]any{}},
	{key: "proxy_location", def: string(ProxyResidential)}, {key: "webhook_url", url: true, inherited: true},
	{key: "totp_url", url: true}, {key: "totp_identifier"}, {key: "browser_address"},
	{key: "start_fresh_browser", def: false}, {key: "max_screenshot_scrolls", inherited: true},
	{key: "run_metadata", def: map[string]any{}},
}

func taskRequestMatches(sent, echoed map[string]any) bool {
	return echoMatches(taskEchoFields, sent, echoed)
}

func workflowRequestMatches(sent, echoed map[string]any) bool {
	return echoMatches(workflowEchoFields, sent, echoed)
}

// echoMatches compares the fields the echo carries; a field a server
// version does not echo cannot tell requests apart and is skipped.
func echoMatches(fields []echoField, sent, echoed map[string]any) bool {
	for _, f := range fields {
		got, echoedKey := echoed[f.key]
		if !echoedKey {
			continue
		}
		name := f.key
		if f.sentKey != "" {
			name = f.sentKey
		}
		want, wasSent := sent[name]
		if !wasSent || want == nil {
			if f.inherited {
				continue
			}
			want = f.def
			// An unset proxy may also be recorded as null, depending on a
			// server setting.
			if got == nil {
				continue
			}
		}
		if f.url {
			ws, _ := want.(string)
			gs, _ := got.(string)
			if normalizeRequestURL(ws) != normalizeRequestURL(gs) {
				return false
			}
			continue
		}
		if f.key == "run_metadata" {
			want = withoutReservedKeys(want)
			got = withoutReservedKeys(got)
		}
		if !sameJSONValue(want, got) {
			return false
		}
	}
	return true
}

// withoutReservedKeys drops the keys the server drops from run_metadata;
// null counts as empty.
func withoutReservedKeys(v any) any {
	m, _ := v.(map[string]any)
	out := map[string]any{}
	for k, val := range m {
		if !strings.HasPrefix(k, "skyvern.") {
			out[k] = val
		}
	}
	return out
}

// sameJSONValue compares decoded JSON values; numbers compare by value.
func sameJSONValue(a, b any) bool {
	ca, errA := json.Marshal(a)
	cb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return reflect.DeepEqual(a, b)
	}
	var na, nb any
	_ = json.Unmarshal(ca, &na)
	_ = json.Unmarshal(cb, &nb)
	return reflect.DeepEqual(na, nb)
}

// normalizeRequestURL approximates the server's URL normalization: a
// missing scheme becomes https, scheme and host are lower-cased, an empty
// path becomes "/".
func normalizeRequestURL(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

// decodeLoose decodes JSON keeping numbers exact.
func decodeLoose(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// fingerprint identifies identical requests to one route.
func fingerprint(path string, body []byte) string {
	var v any
	canonical := body
	if decodeLoose(body, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			canonical = b
		}
	}
	sum := sha256.Sum256(append([]byte(path+"\x00"), canonical...))
	return string(sum[:])
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// creationLedger is a client's memory of its run-creating calls: how many
// identical calls are in flight, which ambiguous ones are unresolved, and
// which runs were handed to a caller. Entries expire after
// resolveLedgerTTL, so the memory stays bounded by the call rate.
type creationLedger struct {
	mu       sync.Mutex
	inflight map[string]int
	pending  map[string]map[*OutcomeUnknownError]time.Time
	claimed  map[string]runClaim
	pruned   time.Time
}

// runClaim records who got a run: a call that succeeded (by nil) or a
// resolution.
type runClaim struct {
	at time.Time
	by *OutcomeUnknownError
}

func (l *creationLedger) lockedPrune(now time.Time) {
	if l.inflight == nil {
		l.inflight = map[string]int{}
		l.pending = map[string]map[*OutcomeUnknownError]time.Time{}
		l.claimed = map[string]runClaim{}
	}
	if now.Sub(l.pruned) < time.Minute {
		return
	}
	l.pruned = now
	for id, cl := range l.claimed {
		if now.Sub(cl.at) > resolveLedgerTTL {
			delete(l.claimed, id)
		}
	}
	for fp, set := range l.pending {
		for ue, at := range set {
			if now.Sub(at) > resolveLedgerTTL {
				delete(set, ue)
			}
		}
		if len(set) == 0 {
			delete(l.pending, fp)
		}
	}
}

func (l *creationLedger) begin(fp string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lockedPrune(time.Now())
	l.inflight[fp]++
}

// end records how a call ended: with the run it created, or unresolved.
func (l *creationLedger) end(fp, runID string, ue *OutcomeUnknownError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.lockedPrune(now)
	if l.inflight[fp]--; l.inflight[fp] <= 0 {
		delete(l.inflight, fp)
	}
	if runID != "" {
		l.claimed[runID] = runClaim{at: now}
	}
	if ue != nil {
		if l.pending[fp] == nil {
			l.pending[fp] = map[*OutcomeUnknownError]time.Time{}
		}
		l.pending[fp][ue] = now
	}
}

func (l *creationLedger) inFlight(fp string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[fp]
}

func (l *creationLedger) pendingCount(fp string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending[fp])
}

// claimedElsewhere reports whether the run went to a caller other than
// the resolution of ue.
func (l *creationLedger) claimedElsewhere(runID string, ue *OutcomeUnknownError) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl, ok := l.claimed[runID]
	return ok && cl.by != ue
}

// claim hands a run to the resolution of ue; false if another caller has
// it. Resolving the same error again finds the same run.
func (l *creationLedger) claim(runID string, ue *OutcomeUnknownError) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lockedPrune(time.Now())
	if cl, ok := l.claimed[runID]; ok && cl.by != ue {
		return false
	}
	l.claimed[runID] = runClaim{at: time.Now(), by: ue}
	return true
}

// forget removes a resolved call from the unresolved ones.
func (l *creationLedger) forget(fp string, ue *OutcomeUnknownError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if set := l.pending[fp]; set != nil {
		delete(set, ue)
		if len(set) == 0 {
			delete(l.pending, fp)
		}
	}
}
