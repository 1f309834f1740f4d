package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `package sample

import "crypto/hmac"

func verify(a, b []byte, n int) bool {
	if n >= 300 && !ok() {
		log("refused")
		return false
	}
	return hmac.Equal(a, b)
}

func ok() bool { return true }

func log(string) {}

func untouched(x int) bool { return x == 1 }
`

func TestMutantsOfSelectedFunctions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sample.go"), []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	tg := &target{file: "sample.go", funcs: []string{"verify", "ok"}}
	ms, err := mutantsOf(dir, tg)
	if err != nil {
		t.Fatal(err)
	}
	var descs []string
	for _, m := range ms {
		descs = append(descs, m.desc)
		// Every mutant is still Go source.
		src := sample[:m.start] + m.repl + sample[m.end:]
		if _, err := parser.ParseFile(token.NewFileSet(), "m.go", src, 0); err != nil {
			t.Errorf("%s: mutant does not parse: %v", m, err)
		}
		if m.line >= 17 {
			t.Errorf("%s: mutated a function that was not selected", m)
		}
	}
	got := strings.Join(descs, "\n")
	for _, want := range []string{
		">= -> >", ">= -> <", "300 -> 301", "&& -> ||", "drop !", "false -> true", "true -> false",
		"compare only the first 16 bytes of the MAC", "compare MACs with ==",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no mutant %q among:\n%s", want, got)
		}
	}
	if strings.Contains(got, "drop call log") {
		t.Errorf("a call that only logs was dropped:\n%s", got)
	}
}

func TestSelected(t *testing.T) {
	for _, tc := range []struct {
		file, only string
		want       bool
	}{
		{"retry.go", "", true},
		{"retry.go", "retry.go", true},
		{"webhook.go", "retry.go, webhook.go", true},
		{"webhook_signature.go", "webhook.go", false},
	} {
		if got := selected(tc.file, tc.only); got != tc.want {
			t.Errorf("selected(%q, %q) = %v, want %v", tc.file, tc.only, got, tc.want)
		}
	}
}
