package sqlstore

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestZeroOptionsSelectDefaults checks the rule of the skyvern package: a
// nil option is ignored and a zero value selects the default.
func TestZeroOptionsSelectDefaults(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("postgres", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	s, err := New(db, nil, WithTable(""), WithLease(0), WithPlaceholder(0), WithClock(nil))
	require.NoError(t, err)
	assert.Equal(t, DefaultLease, s.lease)
	require.NotNil(t, s.now)
	assert.False(t, s.now().IsZero())
	assert.Equal(t, buildQueries(DefaultTable, PlaceholderDollar), s.queries)
	assert.True(t, strings.Contains(s.queries.claim, `"`+DefaultTable+`"`), s.queries.claim)
}
