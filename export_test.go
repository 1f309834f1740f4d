package skyvern

// SafeBuffer exposes the tests' concurrency-safe log buffer to the external
// test package; it exists only in test builds.
type SafeBuffer = safeBuffer
