package pgnotify

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestZeroOptionsSelectDefaults checks the rule of the skyvern package: a
// zero value selects the default, except where an option says it turns
// something off (WithMaxBody).
func TestZeroOptionsSelectDefaults(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	for _, opt := range []Option{WithTable(""), WithScanInterval(0), WithRetention(0), WithQueue(0), WithReconnect(0, 0), WithLogger(nil)} {
		require.NoError(t, opt(&cfg))
	}
	want := defaultConfig()
	assert.Equal(t, want.table, cfg.table)
	assert.Equal(t, want.scanInterval, cfg.scanInterval)
	assert.Equal(t, want.retention, cfg.retention)
	assert.Equal(t, want.queue, cfg.queue)
	assert.Equal(t, want.minReconnect, cfg.minReconnect)
	assert.Equal(t, want.maxReconnect, cfg.maxReconnect)
	assert.Nil(t, cfg.logger)

	require.NoError(t, WithMaxBody(0)(&cfg))
	assert.Zero(t, cfg.maxBody, "0 relays no bodies")

	require.NoError(t, WithReconnect(10*want.maxReconnect, 0)(&cfg))
	assert.Equal(t, 10*want.maxReconnect, cfg.maxReconnect, "a default cap below the first wait is raised to it")
}
