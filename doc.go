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
// works when the server answered. Check with GetRun, or wait for the
// webhook, before trying again. WithRetryAmbiguousFailures opts a single call
// back into retrying when a duplicate is harmless to you.
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
