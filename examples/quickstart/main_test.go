package main

import (
	"errors"
	"testing"
)

// TestQuickstart runs the whole quickstart against the in-process fake. A
// key in the environment must not make it go live: only -live does.
func TestQuickstart(t *testing.T) {
	t.Setenv("SKYVERN_API_KEY", "sk_exported_but_not_asked_for")
	if err := run("", false); err != nil {
		t.Fatal(err)
	}
}

// TestQuickstartLiveNeedsKey checks that -live without a key fails before
// anything is sent.
func TestQuickstartLiveNeedsKey(t *testing.T) {
	t.Setenv("SKYVERN_API_KEY", " ")
	if err := run("", true); !errors.Is(err, errNoLiveKey) {
		t.Fatalf("run(-live) without a key: got %v, want %v", err, errNoLiveKey)
	}
}
