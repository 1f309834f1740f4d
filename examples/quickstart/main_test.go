package main

import (
	"testing"
)

// TestQuickstart runs the whole quickstart against the in-process fake.
func TestQuickstart(t *testing.T) {
	t.Setenv("SKYVERN_API_KEY", "") // never the real service from a test
	if err := run(""); err != nil {
		t.Fatal(err)
	}
}
