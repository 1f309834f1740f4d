package skyvern

import "context"

// ClaimResult is the answer of an IdempotencyStore to a claim.
type ClaimResult int

const (
	// ClaimAcquired means the caller now holds the key and must process the
	// event, then call Complete (on success) or Release (on failure).
	ClaimAcquired ClaimResult = iota + 1
	// ClaimDone means the event was already processed successfully.
	ClaimDone
	// ClaimBusy means another worker holds the key and its lease has not
	// expired; the caller should wait and claim again.
	ClaimBusy
)

// IdempotencyStore records which webhook events have been processed, so a
// delivery that Skyvern repeats (it makes up to three attempts, and
// RetryRunWebhook replays) runs the user's function once.
//
// Keys are opaque strings (see WebhookPayload.IdempotencyKey). A key moves
// from absent to claimed (Claim) to done (Complete), or from claimed back to
// absent (Release). Implementations must be safe for concurrent use, and a
// claim that is never completed or released must expire (a lease), so that a
// worker that dies mid-processing does not block the event forever.
type IdempotencyStore interface {
	Claim(ctx context.Context, key string) (ClaimResult, error)
	Complete(ctx context.Context, key string) error
	Release(ctx context.Context, key string) error
}
