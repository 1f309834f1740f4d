// Package skyvern is a Go client for the Skyvern API: start browser-automation
// runs, create and run workflows, learn their results from signed webhooks or
// by polling, and replay failed webhook deliveries.
//
// # Getting started
//
//	client, err := skyvern.NewClient(os.Getenv("SKYVERN_API_KEY"))
//	if err != nil { ... }
//	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{
//		Prompt:     "Get the price of this product",
//		URL:        "https://example.com/product/123",
//		WebhookURL: "https://your-server.com/webhook",
//	})
//
// The run starts queued. Its result arrives at WebhookURL when it reaches a
// terminal status (completed, failed, terminated, timed_out or canceled);
// WaitForRun polls GetRun as a fallback.
//
// # Timeouts, retries and idempotency
//
// The context passed to a call bounds the whole call, retries included;
// WithRequestTimeout bounds each attempt. Reads (GetRun, GetWorkflows, ...)
// are retried on connection errors, 408, 429 and 5xx with jittered
// exponential backoff, honouring Retry-After up to a cap (WithMaxRetryAfter);
// a longer hint ends the call with an *APIError carrying it.
//
// Calls that start work on the server are different. RunTask, RunWorkflow,
// CancelRun and RetryRunWebhook are sent again only when the previous
// attempt provably never reached the server (the connection could not be
// made, or nothing was written on it) or was refused with 429. After a 5xx,
// a timeout or a dropped connection the run may already exist, so instead of
// risking a second run the call returns an error for which
// errors.Is(err, ErrOutcomeUnknown) holds; errors.As(err, &apiErr) also
// works when the server answered. The same holds for a 2xx answer whose
// body cannot be read or is not a run: the server did the work.
// Client.ResolveOutcome then returns the run the call created, or proves
// that none was (ErrNotCreated) so that sending again is safe;
// WithOutcomeResolution makes RunTask, RunWorkflow, RunLogin,
// RunDownloadFiles and RetryWorkflowRun do this themselves.
// WithRetryAmbiguousFailures opts a single call back into retrying when a
// duplicate is harmless to you. Only the SDK decides when a request is sent
// again: WithHeader refuses Idempotency-Key and X-Idempotency-Key on calls
// that change something, since net/http would take them as leave to resend
// the request by itself.
//
// # Options
//
// [NewClient] takes [Option] values, each call takes [RequestOption] values,
// and [Client.WaitForRun] takes [WaitOption] values. The knobs that make
// sense at both levels, [WithRequestTimeout] (one attempt's bound) and
// [WithMaxRetries] (the retry budget), return a [SharedOption], which is
// both: given to NewClient it sets the client's default, given to a call it
// overrides that default for the call. Knobs that one call alone
// understands are fields of that call's request type, not options:
// [WorkflowRequest].IdempotencyKey, [WorkflowRunRequest].MaxStepsOverride,
// and XUserAgent on [TaskRunRequest] and [WorkflowRunRequest].
//
// The options of this package ([Option], [RequestOption], [WaitOption],
// [HandlerOption], [MemoryStoreOption], [HubOption]) and those of the
// sqlstore and pgnotify packages follow one rule. A nil option is ignored.
// A zero value selects the documented default (or turns the feature off
// where its documentation says so, as WithMaxRetries(0) and WithBusyWait(0)
// do). A negative or otherwise invalid value is an error, reported where it
// can be:
//
//   - [NewClient], [NewMemoryStore] and [NewRunHub] return it, matching
//     [ErrInvalidOption]; sqlstore.New and pgnotify.New return their
//     packages' ErrInvalidOption;
//   - a call given an invalid RequestOption or WaitOption returns an
//     [*InvalidRequestError] (matching [ErrValidation]) before sending
//     anything;
//   - [Webhook.Handler], [Webhook.Middleware] and [Webhook.TOTPHandler]
//     cannot return an error, so a handler given an invalid HandlerOption
//     answers every request 500, which Skyvern retries, and logs the error
//     to its WithHandlerLogger logger. Call [Webhook.CheckHandlerOptions]
//     with the same options at startup to fail there instead.
//
// # Redirects
//
// The API key travels in a header on every request, and net/http keeps
// such headers on a redirect. The client therefore refuses any redirect to
// another scheme or host than the base URL's, and any redirect of a call
// that starts or changes something: following a 307 or 308 would post the
// request again, and for RunTask that is a second run. Reads follow
// redirects within the API host. A refused redirect fails the call with
// an error matching [ErrRedirectRefused]; it is not retried.
//
// # Response metadata and deprecations
//
// [WithResponse] fills in a [Response] with the status, headers, request id
// and attempt count of a call's last answer, on success and on an error
// status alike. Skyvern announces a route's removal at least six months
// ahead with Deprecation and Sunset headers; they appear in the Response,
// and a client with a logger logs them at WARN once per route.
//
// # Logging
//
// A client made with [WithLogger] writes its own structured records, never
// go-retryablehttp's: one per failed attempt ("skyvern: retrying" at INFO
// when another attempt follows, "skyvern: attempt failed" at DEBUG when
// none does) and one per call ("skyvern: call", DEBUG on success and WARN
// on failure). Their attributes are method, path (without the query
// string), attempt or attempts, retry_class (read, idempotent or unsafe),
// retry, reason, status, wait, outcome (ok, api_error, outcome_unknown,
// context_done, failed), elapsed and error. No record carries the API key;
// nor does printing a [Client] with any fmt verb or slog.
//
// # Errors
//
// Error statuses come back as *APIError, which decodes every shape Skyvern
// and the proxies in front of it produce ({"detail": "..."}, validation
// lists, {"error": "..."}, empty and HTML bodies) and matches ErrNotFound,
// ErrForbidden, ErrRateLimited, ErrValidation, ErrConflict and ErrServer
// with errors.Is. Requests that the server would reject or silently ignore
// are refused before sending with an *InvalidRequestError. No error message
// or log line contains the API key.
//
// # Webhooks
//
// Skyvern signs each webhook with the API key that created the run: the
// x-skyvern-signature header is the lowercase hex HMAC-SHA256 of the raw
// body. NewWebhook builds a verifier (several keys for rotation; an empty key
// is refused, since anyone can sign with it), and its Handler verifies in
// constant time over the raw bytes, decodes a WebhookPayload, and calls your
// function once per run and status, however often Skyvern delivers it (up to
// three attempts, plus RetryRunWebhook replays). Answer fast: Skyvern waits
// at most 30 s. The x-skyvern-timestamp header is not signed, so a timestamp
// tolerance ([WithTolerance]) is advisory only.
//
// # Which webhook field goes where
//
// A workflow's default webhook is WorkflowDefinition.WebhookCallbackURL
// (json_definition.webhook_callback_url); a run's own webhook is
// TaskRunRequest.WebhookURL or WorkflowRunRequest.WebhookURL (top-level
// webhook_url), which overrides the workflow's default. The server silently
// ignores a webhook under the wrong name; these types have no field for it.
//
// # Testing
//
// Package skyverntest is an in-process fake of the API that behaves like the
// real service, signed webhook delivery included.
package skyvern
