package skyvern_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"gopkg.in/dnaeon/go-vcr.v3/cassette"
	vcr "gopkg.in/dnaeon/go-vcr.v3/recorder"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// Cassettes are recorded HTTP exchanges under testdata/cassettes, replayed by
// the contract tests. The mode comes from SKYVERN_VCR:
//
//	(unset)      replay only; a missing interaction fails the test
//	record       record against an in-process skyverntest server
//	record-live  record against the real API; needs SKYVERN_API_KEY
//
// Every cassette uses the canonical base URL, so the random port of a test
// server never reaches it, and matches requests on method, URL and JSON body.
const (
	cassetteDir      = "testdata/cassettes"
	canonicalBaseURL = skyvern.BaseURLCloud
	// maxCassetteBytes bounds what a replay loads into memory.
	maxCassetteBytes = 4 << 20
	redacted         = "REDACTED"
)

type vcrMode string

const (
	vcrReplay     vcrMode = "replay"
	vcrRecord     vcrMode = "record"
	vcrRecordLive vcrMode = "record-live"
)

func currentVCRMode(t *testing.T) vcrMode {
	t.Helper()
	switch m := os.Getenv("SKYVERN_VCR"); m {
	case "", "replay":
		return vcrReplay
	case "record":
		return vcrRecord
	case "record-live":
		if os.Getenv("SKYVERN_API_KEY") == "" {
			t.Fatal("SKYVERN_VCR=record-live needs SKYVERN_API_KEY")
		}
		return vcrRecordLive
	default:
		t.Fatalf("SKYVERN_VCR=%q: want replay, record or record-live", m)
		return ""
	}
}

// cassetteEnv is what a scenario runs with.
type cassetteEnv struct {
	client *skyvern.Client
	// fake is the server being recorded; nil when replaying or recording
	// against the real API, so scenarios guard the steps that drive it.
	fake *skyverntest.Server
}

// newCassetteEnv opens the named cassette in the current mode and returns a
// client whose every attempt goes through the recorder (it sits below the
// retry layer, so a 503 -> 200 sequence is two interactions, replayed in
// order). apiKey overrides the client's key (for the 403 cassette).
func newCassetteEnv(t *testing.T, name string, apiKey string) *cassetteEnv {
	t.Helper()
	mode := currentVCRMode(t)
	path := filepath.Join(cassetteDir, name)
	env := &cassetteEnv{}

	opts := &vcr.Options{CassetteName: path, SkipRequestLatency: true}
	key := "sk_replay_only"
	switch mode {
	case vcrReplay:
		opts.Mode = vcr.ModeReplayOnly
		info, err := os.Stat(path + ".yaml")
		require.NoError(t, err, "cassette %s is missing: record it with SKYVERN_VCR=record go test -run Cassette ./", name)
		require.LessOrEqual(t, info.Size(), int64(maxCassetteBytes), "cassette %s is too large to replay", name)
	case vcrRecord:
		opts.Mode = vcr.ModeRecordOnly
		env.fake = skyverntest.NewServer(
			skyverntest.WithDeterministicIDs(20260131),
			skyverntest.WithClock(fixedClock()),
			skyverntest.WithWebhookTransport(handlerTransport{cassetteWebhookReceiver()}),
			skyverntest.WithDeliveryTimeScale(0),
		)
		t.Cleanup(env.fake.Close)
		key = env.fake.APIKey()
		opts.RealTransport = rewriteTransport{target: env.fake.URL(), base: env.fake.Client().Transport}
	case vcrRecordLive:
		opts.Mode = vcr.ModeRecordOnly
		key = os.Getenv("SKYVERN_API_KEY")
		opts.RealTransport = http.DefaultTransport
	}
	if apiKey != "" {
		key = apiKey
	}

	rec, err := vcr.NewWithOptions(opts)
	require.NoError(t, err)
	rec.SetMatcher(matchMethodURLAndJSONBody)
	rec.AddHook(redactInteraction(key), vcr.AfterCaptureHook)
	t.Cleanup(func() { require.NoError(t, rec.Stop()) })

	env.client, err = skyvern.NewClient(key,
		skyvern.WithBaseURL(canonicalBaseURL),
		skyvern.WithHTTPClient(&http.Client{Transport: rec}),
		skyvern.WithRetryWait(time.Millisecond, 2*time.Millisecond),
	)
	require.NoError(t, err)
	return env
}

// fixedClock makes recorded timestamps stable: it starts at a fixed instant
// and advances 250 ms per reading.
func fixedClock() func() time.Time {
	now := time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC)
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(250 * time.Millisecond)
		return now
	}
}

// rewriteTransport sends requests addressed to the canonical API to the fake
// server instead. It clones the request, so the recorder keeps the
// canonical URL.
type rewriteTransport struct {
	target string
	base   http.RoundTripper
}

func (rt rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	u, err := url.Parse(rt.target)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = u.Scheme, u.Host, u.Host
	base := rt.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}

// handlerTransport serves requests with an in-process handler: the fake
// delivers webhooks to https://hooks.example.com without any network.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func cassetteWebhookReceiver() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.Contains(r.URL.Path, "broken") {
			http.Error(w, "receiver down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

// matchMethodURLAndJSONBody matches a live request to a recorded one by
// method, URL, and body compared as JSON (so key order and spacing do not
// matter, while every value does).
func matchMethodURLAndJSONBody(r *http.Request, i cassette.Request) bool {
	if r.Method != i.Method || r.URL.String() != i.URL {
		return false
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	// A multipart body's boundary is random per request: compare the
	// bodies with each one's own boundary taken out.
	if live, rec := multipartBoundary(r.Header.Get("Content-Type")), multipartBoundary(i.Headers.Get("Content-Type")); live != "" && rec != "" {
		return bytes.Equal(bytes.ReplaceAll(body, []byte(live), nil), bytes.ReplaceAll([]byte(i.Body), []byte(rec), nil))
	}
	return sameJSON(body, []byte(i.Body))
}

func multipartBoundary(contentType string) string {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		return ""
	}
	return params["boundary"]
}

func sameJSON(a, b []byte) bool {
	if len(bytes.TrimSpace(a)) == 0 || len(bytes.TrimSpace(b)) == 0 {
		return len(bytes.TrimSpace(a)) == len(bytes.TrimSpace(b))
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	// The client request id is random on every run.
	va, _ = dropClientRequestID(va)
	vb, _ = dropClientRequestID(vb)
	return cmp.Equal(va, vb)
}

var signatureInJSON = regexp.MustCompile(`("x-skyvern-signature"\s*:\s*")[0-9a-fA-F]+(")`)

// redactInteraction removes the API key and webhook signatures from what is
// saved. It replaces the header maps with redacted copies: the live maps
// belong to the request, which a retry sends again with its key.
func redactInteraction(apiKey string) vcr.HookFunc {
	return func(i *cassette.Interaction) error {
		// Replays skip latency anyway; a zero keeps re-recordings identical.
		i.Response.Duration = 0
		i.Request.Headers = redactHeaders(i.Request.Headers)
		i.Response.Headers = redactHeaders(i.Response.Headers)
		for _, body := range []*string{&i.Request.Body, &i.Response.Body} {
			if apiKey != "" {
				*body = strings.ReplaceAll(*body, apiKey, redacted)
			}
			*body = signatureInJSON.ReplaceAllString(*body, "${1}"+redacted+"${2}")
		}
		return nil
	}
}

func redactHeaders(h http.Header) http.Header {
	out := h.Clone()
	for k := range out {
		switch strings.ToLower(k) {
		case "x-api-key", "authorization", "cookie", "set-cookie", strings.ToLower(skyvern.SignatureHeader):
			out[k] = []string{redacted}
		case "idempotency-key", "date":
			// Random or time-dependent: drop them so re-recording is stable.
			delete(out, k)
		}
	}
	return out
}

// cassetteSecretPatterns are what no cassette may contain.
func cassetteSecretPatterns() []*regexp.Regexp {
	pats := []*regexp.Regexp{
		regexp.MustCompile(regexp.QuoteMeta(skyverntest.DefaultAPIKey)),
		regexp.MustCompile(`sk_(?:live|prod)_[A-Za-z0-9]+`), // production-style keys
		regexp.MustCompile(`(?i)x-(skyvern-signature|api-key)["']?\s*[:=]\s*\[?\s*["']?[0-9a-zA-Z_.-]{16,}`),
		regexp.MustCompile(`(?i)x-(skyvern-signature|api-key):\s*\n\s*-\s*["']?(?:[0-9a-zA-Z_.-]{16,})`),
		regexp.MustCompile(`\b[0-9a-f]{64}\b`), // a bare HMAC-SHA256 hex digest
	}
	if k := os.Getenv("SKYVERN_API_KEY"); k != "" {
		pats = append(pats, regexp.MustCompile(regexp.QuoteMeta(k)))
	}
	return pats
}

func scanForSecrets(name string, data []byte) error {
	for _, re := range cassetteSecretPatterns() {
		if loc := re.FindIndex(data); loc != nil {
			from, to := max(loc[0]-40, 0), min(loc[1]+10, len(data))
			return fmt.Errorf("%s holds a secret matching %s near %q", name, re, data[from:to])
		}
	}
	return nil
}
