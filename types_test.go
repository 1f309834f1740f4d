package skyvern_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

func TestTimeUnmarshal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Time
	}{
		{`"2026-01-31T15:20:42.160725"`, time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC)},
		{`"2026-01-31T15:20:42"`, time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC)},
		{`"2026-01-31T15:20:42.1"`, time.Date(2026, 1, 31, 15, 20, 42, 100000000, time.UTC)},
		{`"2026-01-31T15:20:42.001000"`, time.Date(2026, 1, 31, 15, 20, 42, 1000000, time.UTC)},
		{`"2026-01-31T15:20:42.123456789"`, time.Date(2026, 1, 31, 15, 20, 42, 123456789, time.UTC)},
		{`"2026-01-31T15:20:42Z"`, time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC)},
		{`"2026-01-31T15:20:42.5Z"`, time.Date(2026, 1, 31, 15, 20, 42, 500000000, time.UTC)},
		{`"2026-01-31T17:20:42+02:00"`, time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC)},
		{`"2026-01-31T10:20:42.25-05:00"`, time.Date(2026, 1, 31, 15, 20, 42, 250000000, time.UTC)},
		{`"2026-01-31 15:20:42.160725"`, time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC)},
	}
	for _, tc := range cases {
		var got skyvern.Time
		require.NoError(t, json.Unmarshal([]byte(tc.in), &got), tc.in)
		assert.True(t, tc.want.Equal(got.Time), "%s: got %v want %v", tc.in, got.Time, tc.want)
		assert.Equal(t, time.UTC, got.Location(), tc.in)
	}
}

func TestTimeNullAndErrors(t *testing.T) {
	t.Parallel()
	var s struct {
		At  skyvern.Time  `json:"at"`
		Opt *skyvern.Time `json:"opt"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"at":null,"opt":null}`), &s))
	assert.True(t, s.At.IsZero())
	assert.Nil(t, s.Opt)

	for _, bad := range []string{`"yesterday"`, `"2026-13-01T00:00:00"`, `1769873016`, `""`, `"2026-01-31T15:20:42+25:00"`, `true`, `"`} {
		var tm skyvern.Time
		assert.Error(t, json.Unmarshal([]byte(bad), &tm), bad)
	}
}

func TestTimeMarshalInSkyvernForm(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC), `"2026-01-31T15:20:42.160725"`},
		{time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC), `"2026-01-31T15:20:42"`},
		{time.Date(2026, 1, 31, 15, 20, 42, 1000000, time.UTC), `"2026-01-31T15:20:42.001000"`},
		// Sub-microsecond precision is beyond what Skyvern stores.
		{time.Date(2026, 1, 31, 15, 20, 42, 999, time.UTC), `"2026-01-31T15:20:42"`},
		{time.Date(2026, 1, 31, 17, 20, 42, 0, time.FixedZone("CEST", 7200)), `"2026-01-31T15:20:42"`},
		{time.Time{}, `null`},
	}
	for _, tc := range cases {
		got, err := json.Marshal(skyvern.NewTime(tc.in))
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(got))
	}
	assert.Equal(t, "2026-01-31T15:20:42.160725", skyvern.NewTime(cases[0].in).String())
}

func TestRunStatusIsTerminal(t *testing.T) {
	t.Parallel()
	terminal := map[skyvern.RunStatus]bool{
		skyvern.RunStatusCreated: false, skyvern.RunStatusQueued: false, skyvern.RunStatusRunning: false,
		skyvern.RunStatusPaused: false, skyvern.RunStatusTimedOut: true, skyvern.RunStatusFailed: true,
		skyvern.RunStatusTerminated: true, skyvern.RunStatusCompleted: true, skyvern.RunStatusCanceled: true,
		"cancelled": false, "": false, "COMPLETED": false,
	}
	for s, want := range terminal {
		assert.Equal(t, want, s.IsTerminal(), "%q", s)
	}
}

func TestProxyJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		proxy *skyvern.Proxy
		wire  string
	}{
		{"preset", skyvern.NewProxy(skyvern.ProxyResidentialGB), `"RESIDENTIAL_GB"`},
		{"none", skyvern.NewProxy(skyvern.ProxyNone), `"NONE"`},
		{"geo", skyvern.NewGeoProxy(skyvern.GeoTarget{Country: "US", Subdivision: skyvern.Ptr("CA"), City: skyvern.Ptr("San Francisco")}), `{"country":"US","subdivision":"CA","city":"San Francisco"}`},
		{"geo country only", skyvern.NewGeoProxy(skyvern.GeoTarget{Country: "DE"}), `{"country":"DE"}`},
		{"custom", skyvern.NewCustomProxy(json.RawMessage(`{ "url": "http://user:pw@proxy.internal:3128" }`)), `{"url":"http://user:pw@proxy.internal:3128"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.proxy)
			require.NoError(t, err)
			assert.Equal(t, tc.wire, string(got))

			var back skyvern.Proxy
			require.NoError(t, json.Unmarshal([]byte(tc.wire), &back))
			again, err := json.Marshal(back)
			require.NoError(t, err)
			assert.Equal(t, tc.wire, string(again))
		})
	}

	var geo skyvern.Proxy
	require.NoError(t, json.Unmarshal([]byte(`{"country":"US","subdivision":null,"city":null}`), &geo))
	if diff := cmp.Diff(&skyvern.GeoTarget{Country: "US"}, geo.Geo); diff != "" {
		t.Errorf("geo (-want +got):\n%s", diff)
	}
	assert.Equal(t, `{"country":"US"}`, geo.String())
	assert.Equal(t, "US-CA", skyvern.NewProxy(skyvern.ProxyUSCA).String())

	for _, bad := range []string{`12`, `true`, `[1]`} {
		var p skyvern.Proxy
		assert.Error(t, json.Unmarshal([]byte(bad), &p), bad)
	}
}

func TestPointerHelpers(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "x", *skyvern.Ptr("x"))
	assert.Equal(t, 0, *skyvern.Ptr(0))
	assert.False(t, *skyvern.Ptr(false))
	assert.Equal(t, skyvern.RunEngineSkyvernV2, *skyvern.Ptr(skyvern.RunEngineSkyvernV2))
}
