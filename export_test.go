package skyvern

import "testing"

// SafeBuffer exposes the tests' concurrency-safe log buffer to the external
// test package; it exists only in test builds.
type SafeBuffer = safeBuffer

// MustMemoryStore is NewMemoryStore for tests whose options are valid.
func MustMemoryStore(t testing.TB, opts ...MemoryStoreOption) *MemoryStore {
	t.Helper()
	return must[*MemoryStore](t)(NewMemoryStore(opts...))
}

// MustRunHub is NewRunHub for tests whose options are valid.
func MustRunHub(t testing.TB, opts ...HubOption) *RunHub {
	t.Helper()
	return must[*RunHub](t)(NewRunHub(opts...))
}

// must returns a function that fails t on a constructor's error and
// otherwise passes its value through.
func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
