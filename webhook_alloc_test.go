//go:build !race

package skyvern

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The race detector changes allocation behaviour, so this file is left out
// of -race builds.

func TestVerifyDoesNotAllocate(t *testing.T) {
	wh := mustWebhook(t, "sk_old_key", WithAdditionalKeys(testKey)) // the match is the second key
	body := benchBody(8<<10, "tsk_alloc")
	good := http.Header{}
	good.Set(SignatureHeader, Sign(body, testKey))
	forged := http.Header{}
	forged.Set(SignatureHeader, Sign(body, "sk_forger"))

	for name, h := range map[string]http.Header{"genuine": good, "forged": forged} {
		allocs := testing.AllocsPerRun(100, func() { _ = wh.Verify(body, h) })
		assert.Zero(t, allocs, name)
	}
}
