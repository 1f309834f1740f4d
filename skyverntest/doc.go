// Package skyverntest is an in-process fake of the Skyvern API for tests,
// examples and recording HTTP cassettes.
//
// NewServer starts it on a loopback httptest server:
//
//	srv := skyverntest.NewServer()
//	defer srv.Close()
//	// point a client at srv.URL() with srv.APIKey()
//
// # What it speaks
//
// The server answers the run and workflow operations of the /v1 API (see
// the Route constants) the way Skyvern's FastAPI server does: compact JSON
// with every field present (nulls included) in the key order of Skyvern's
// Pydantic models, naive-UTC timestamps ("2026-01-31T15:20:42.160725", no
// fraction when the microseconds are zero), ids in Skyvern's formats
// (tsk_, tsk_v2_, wr_, w_, wpid_, o_ followed by a 64-bit snowflake), status
// 200 for every success, and Skyvern's error bodies: {"detail":"..."}, the
// 422 list {"detail":[{"type","loc","msg","input"}]}, the 500
// {"error":"Unexpected error: X"}, and 403 {"detail":"Invalid credentials"}
// for a missing or wrong x-api-key.
//
// Runs start as created and move through queued and running to a terminal
// status, either under the test's control (Complete, Fail, TimeOut,
// Terminate, Cancel, Pause, Advance, Finish) or on a timer
// (WithAutoAdvance). When a run ends, its webhook is delivered in the
// background to the run's webhook_url, else to its workflow's
// webhook_callback_url, built and signed as Skyvern builds and signs it:
// the legacy object merged with the run response, serialized like Python's
// json.dumps (compact, raw UTF-8, no HTML escaping, whole floats as
// integers, Python's float repr), with the x-skyvern-timestamp and
// x-skyvern-signature headers. Delivery follows Skyvern's rules: three
// attempts, retries on 403, 408, 425, 429, 5xx and transport errors, a
// backoff of 1s*2^n plus jitter unless the receiver sent Retry-After
// (capped at 30s), no redirects, and the outcome recorded as
// webhook_failure_reason for later payloads. WithDeliveryTimeScale and
// WithDeliveryBackoff make the waits short in tests. Webhooks are only
// delivered to loopback hosts unless WithWebhookTransport says otherwise.
//
// Workflows may carry a retry_policy (workflow_definition.retry_policy,
// validated like Skyvern's WorkflowRetryPolicy, unknown keys refused). A
// run of such a workflow that ends in a status one of its retry_on rules
// matches (and, if the rule lists error codes, with one of Outcome's
// ErrorCodes) keeps its wr_ id and terminal status with retry_pending true
// and next_attempt_at set, then after delay_seconds (see
// WithRetryDelayScale, or StartNextAttempt) goes back to queued as its next
// attempt; get_run reports attempt and attempts[] with each decision
// (retry, final, revoked). A canceled run is never retried, the decision
// is final past max_retries, and cancelling while a retry is pending
// revokes it. With webhook_on_retry every_attempt each retried attempt
// sends an interim webhook (WebhookDelivery.Interim), with final_only only
// the last attempt sends one; such workflows get Skyvern's larger delivery
// budget (15 calls of three requests per webhook), and retry_webhook
// answers 409 while a retry is pending. WithAutoAdvanceFunc chooses each
// run's outcome per attempt; WaitForFinal waits for the end of the last
// attempt.
//
// Requests(), Deliveries() and Webhooks() log what happened for assertions
// (the API key is redacted); Runs() and Workflows() expose the state.
// InjectFault and SetFaultPolicy make chosen requests fail: an error status
// (with Retry-After), latency, a dropped connection, a request that is
// processed and whose answer is then lost or replaced by an error status,
// or a slow request processed even though its client gave up
// (Fault.ProcessAfterGiveUp).
//
// GET /v1/runs lists runs newest first with Skyvern's filters, paging
// bounds (422 beyond page or page_size 100, 400 beyond the first 1000
// matches of a search or workflow filter) and search over a task's title
// and url and a workflow run's parameters; a workflow run's run_metadata
// serves as its tags, and WithTagFilterForbidden makes a tags filter answer
// 403 as for an organization without tagging.
//
// # Fidelity limits
//
// Response floats follow pydantic-core's formatting (29.0, 1e16, 1e-6) and
// webhook floats Python's repr (4.5, 1e-05, 1e+16); both are derived from
// reading the serializers, not from captures. Non-finite floats are written
// as null, as Pydantic does. Workflow blocks and parameters are stored and
// returned as sent: the server-side extras Skyvern adds (output_parameter
// and the like) are not synthesized, and only their discriminators and
// required keys are validated. A yaml_definition is read in full only when
// it is JSON; other YAML contributes its top-level title, description and
// webhook_callback_url. Validation messages for less common mistakes
// (GeoTarget countries, fresh-browser conflicts, JSON syntax errors)
// follow Pydantic's shapes but their texts are approximations. Templates,
// tags, folders other than as a filter, parameter checking against the
// workflow, and SSRF host blocking are not modelled. Retry decisions are
// made the moment an attempt ends (Skyvern may take up to 600 s, reporting
// retry_pending meanwhile), and the wait between the reserved delivery
// calls of a retried workflow follows the ordinary delivery backoff, which
// is an assumption.
package skyverntest
