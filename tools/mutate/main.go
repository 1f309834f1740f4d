// Command mutate measures how well the test suite guards the SDK's critical
// logic: it applies one small change at a time (a mutant) to the signature
// check, the retry classification, the idempotency store and the webhook
// handler's answers, runs the tests that cover that code, and counts the
// mutants the tests kill.
//
// Run it from the module root:
//
//	go run ./tools/mutate                 # every target, one mutant at a time
//	go run ./tools/mutate -j 2 -v         # two at once, show each mutant
//	go run ./tools/mutate -only retry.go,webhook.go  # some targets
//	go run ./tools/mutate -match 'MAC|: 300'         # some mutants
//	go run ./tools/mutate -dir /path/to/another/checkout
//
// The source tree is never written to: each mutant reaches the compiler
// through go test's -overlay flag, so several can run side by side and an
// interrupted run leaves nothing behind. A mutant that does not compile is
// not counted. A mutant whose tests fail, panic or time out is killed; one
// whose tests pass survived, and is listed at the end. The exit status is 1
// when any mutant survived.
//
// The targets' test selections are regular expressions over test names, so
// the same command measures an older checkout whose tests are named
// differently, as long as the covering tests match.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// target is a file whose mutants are judged by one selection of tests.
type target struct {
	file  string   // path relative to the module root
	pkg   string   // package pattern for go test
	tests string   // -run expression
	funcs []string // functions to mutate ("Type.Method" or "name"); empty means all
	env   string   // environment variable that must be set for the tests to mean anything
}

// targets are the code paths where a silent defect costs the most: a forged
// delivery accepted, a run created twice, an event lost or processed twice,
// a delivery answered with a status Skyvern does not retry.
var targets = []target{
	{
		file:  "webhook_signature.go",
		pkg:   ".",
		tests: "Signature|Verify|Webhook|Sign|MAC|Fuzz",
		funcs: []string{"VerifySignature", "decodeSignature", "lowerHexNibble"},
	},
	{
		file:  "internal/hmacpad/hmacpad.go",
		pkg:   ".",
		tests: "Signature|Verify|Webhook|Sign|MAC|Fuzz",
		funcs: []string{"NewKey", "Key.Matches"},
	},
	{
		file:  "webhook.go",
		pkg:   ".",
		tests: "Webhook|Signature|Verify|Parse|Timestamp|Header|Fuzz",
		funcs: []string{"NewWebhook", "Webhook.Verify", "Webhook.Parse", "Webhook.checkTimestamp", "headerValue"},
	},
	{
		file:  "retry.go",
		pkg:   ".",
		tests: "Retry|Reliab|Outcome|Backoff|Fault|Transport|Cancel|RunTask",
		funcs: []string{"checkRetry", "attemptState.spend", "provablyNotSent", "permanentTransportError", "Client.backoff", "retryAfter"},
	},
	{
		file:  "webhook_idempotency.go",
		pkg:   ".",
		tests: "Store|Idempot|Claim|Memory|Handler|Middleware|Lease",
		funcs: []string{"MemoryStore.Claim", "MemoryStore.Complete", "MemoryStore.Release", "MemoryStore.dropExpiredClaims",
			"MemoryStore.evict", "MemoryStore.renew", "MemoryStore.Renew"},
	},
	{
		file:  "webhook_handler.go",
		pkg:   ".",
		tests: "Handler|Middleware|Webhook|Receiver|Busy|Reliab|Hub",
		funcs: []string{"Webhook.Middleware", "statusRecorder.WriteHeader", "statusRecorder.Write", "receiver.readVerified",
			"receiver.receive", "readCapped", "receiver.once", "receiver.run", "receiver.claim", "receiver.answer"},
	},
	{
		file:  "sqlstore/store.go",
		pkg:   "./sqlstore",
		tests: ".",
		funcs: []string{"Store.Claim", "Store.Complete", "Store.Release", "Store.Renew"},
		env:   "SKYVERN_TEST_POSTGRES_DSN",
	},
}

// mutant is one single-place change to a file.
type mutant struct {
	target *target
	line   int
	desc   string
	start  int // byte offsets of the replaced text
	end    int
	repl   string
}

func (m mutant) String() string {
	return fmt.Sprintf("%s:%d: %s", m.target.file, m.line, m.desc)
}

// verdict is what the tests made of a mutant.
type verdict int

const (
	killed verdict = iota
	survived
	notViable // did not compile
)

func main() {
	dir := flag.String("dir", ".", "module root to mutate")
	jobs := flag.Int("j", 1, "mutants tested at once")
	only := flag.String("only", "", "mutate only the targets whose file contains one of these comma-separated strings")
	timeout := flag.Duration("timeout", 2*time.Minute, "time limit of one mutant's tests (a mutant that exceeds it is killed)")
	list := flag.Bool("list", false, "list the mutants without testing them")
	match := flag.String("match", "", "test only the mutants whose listing (file:line: change) matches this regular expression")
	verbose := flag.Bool("v", false, "print every mutant's verdict as it comes")
	flag.Parse()

	root, err := filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	var all []mutant
	for i := range targets {
		t := &targets[i]
		if !selected(t.file, *only) {
			continue
		}
		if t.env != "" && os.Getenv(t.env) == "" {
			fmt.Fprintf(os.Stderr, "skip %s: %s is not set\n", t.file, t.env)
			continue
		}
		ms, err := mutantsOf(root, t)
		if err != nil {
			fail(err)
		}
		all = append(all, ms...)
	}
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			fail(err)
		}
		kept := all[:0]
		for _, m := range all {
			if re.MatchString(m.String()) {
				kept = append(kept, m)
			}
		}
		all = kept
	}
	if *list {
		for _, m := range all {
			fmt.Println(m)
		}
		fmt.Printf("%d mutants\n", len(all))
		return
	}

	scratch, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(scratch)

	// The unmutated tests must pass, or every mutant would look killed.
	for _, pkg := range packagesOf(all) {
		if v, out := runTests(root, "", pkg, testsFor(all, pkg), *timeout); v != survived {
			fmt.Fprintf(os.Stderr, "the unmutated tests of %s fail:\n%s\n", pkg, out)
			os.Exit(2)
		}
	}

	results := make([]verdict, len(all))
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < max(*jobs, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				v := testMutant(root, scratch, i, all[i], *timeout)
				results[i] = v
				if *verbose {
					mu.Lock()
					fmt.Printf("%-10s %s\n", [...]string{"killed", "SURVIVED", "no-build"}[v], all[i])
					mu.Unlock()
				}
			}
		}()
	}
	for i := range all {
		work <- i
	}
	close(work)
	wg.Wait()

	report(all, results)
}

// report prints the score per file and in total, then the survivors.
func report(all []mutant, results []verdict) {
	type score struct{ killed, total int }
	perFile := map[string]*score{}
	var files []string
	var total score
	var survivors []mutant
	for i, m := range all {
		if results[i] == notViable {
			continue
		}
		s := perFile[m.target.file]
		if s == nil {
			s = &score{}
			perFile[m.target.file] = s
			files = append(files, m.target.file)
		}
		s.total++
		total.total++
		if results[i] == killed {
			s.killed++
			total.killed++
		} else {
			survivors = append(survivors, m)
		}
	}
	for _, f := range files {
		fmt.Printf("%-28s %3d/%d killed\n", f, perFile[f].killed, perFile[f].total)
	}
	fmt.Printf("%-28s %3d/%d killed\n", "total", total.killed, total.total)
	if len(survivors) > 0 {
		fmt.Println("survivors:")
		for _, m := range survivors {
			fmt.Println("  " + m.String())
		}
		os.Exit(1)
	}
}

// selected reports whether file matches the -only list (empty: all files).
func selected(file, only string) bool {
	if only == "" {
		return true
	}
	for _, part := range strings.Split(only, ",") {
		if part = strings.TrimSpace(part); part != "" && strings.Contains(file, part) {
			return true
		}
	}
	return false
}

func packagesOf(all []mutant) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range all {
		if !seen[m.target.pkg] {
			seen[m.target.pkg] = true
			out = append(out, m.target.pkg)
		}
	}
	sort.Strings(out)
	return out
}

// testsFor joins the test selections of a package's targets.
func testsFor(all []mutant, pkg string) string {
	seen := map[string]bool{}
	var parts []string
	for _, m := range all {
		if m.target.pkg == pkg && !seen[m.target.tests] {
			seen[m.target.tests] = true
			parts = append(parts, m.target.tests)
		}
	}
	return strings.Join(parts, "|")
}

func testMutant(root, scratch string, i int, m mutant, timeout time.Duration) verdict {
	src, err := os.ReadFile(filepath.Join(root, m.target.file))
	if err != nil {
		fail(err)
	}
	mutated := append(append(append([]byte(nil), src[:m.start]...), m.repl...), src[m.end:]...)
	dir := filepath.Join(scratch, strconv.Itoa(i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	file := filepath.Join(dir, filepath.Base(m.target.file))
	if err := os.WriteFile(file, mutated, 0o644); err != nil {
		fail(err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, m.target.file): file},
	})
	if err != nil {
		fail(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		fail(err)
	}
	v, _ := runTests(root, overlayFile, m.target.pkg, m.target.tests, timeout)
	return v
}

// runTests runs the selected tests of pkg, with an overlay when one is given.
func runTests(root, overlay, pkg, run string, timeout time.Duration) (verdict, string) {
	// No vet (a mutant vet dislikes is still a mutant) and no debug
	// information (linking is much of a mutant's cost).
	args := []string{"test", "-count=1", "-vet=off", "-failfast", "-ldflags=-s -w", "-timeout=" + timeout.String(), "-run", run}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	args = append(args, pkg)
	// The context is the backstop for a mutant that hangs outside any test.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return survived, out.String()
	case ctx.Err() != nil:
		return killed, out.String()
	case errors.As(err, &exit):
		if bytes.Contains(out.Bytes(), []byte("[build failed]")) || bytes.Contains(out.Bytes(), []byte("[setup failed]")) {
			return notViable, out.String()
		}
		return killed, out.String()
	}
	fail(fmt.Errorf("go test: %v\n%s", err, out.String()))
	return killed, ""
}

// mutantsOf parses a target's file and lists the mutants of its selected
// functions.
func mutantsOf(root string, t *target) ([]mutant, error) {
	path := filepath.Join(root, t.file)
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, name := range t.funcs {
		want[name] = true
	}
	var out []mutant
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		if len(want) > 0 && !want[funcName(fn)] {
			continue
		}
		m := mutator{t: t, fset: fset, src: src}
		ast.Inspect(fn.Body, m.visit)
		out = append(out, m.out...)
	}
	return out, nil
}

// funcName is "name" for a function and "Type.name" for a method.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// swaps are the operator replacements: each comparison moved across its
// boundary or negated, each logical operator turned into the other.
var swaps = map[token.Token][]token.Token{
	token.EQL:  {token.NEQ},
	token.NEQ:  {token.EQL},
	token.LSS:  {token.LEQ, token.GEQ},
	token.LEQ:  {token.LSS, token.GTR},
	token.GTR:  {token.GEQ, token.LEQ},
	token.GEQ:  {token.GTR, token.LSS},
	token.LAND: {token.LOR},
	token.LOR:  {token.LAND},
	token.ADD:  {token.SUB},
	token.SUB:  {token.ADD},
}

type mutator struct {
	t    *target
	fset *token.FileSet
	src  []byte
	out  []mutant
}

func (m *mutator) add(pos, end token.Pos, repl, desc string) {
	start, stop := m.fset.Position(pos), m.fset.Position(end)
	m.out = append(m.out, mutant{target: m.t, line: start.Line, desc: desc, start: start.Offset, end: stop.Offset, repl: repl})
}

func (m *mutator) text(n ast.Node) string {
	return string(m.src[m.fset.Position(n.Pos()).Offset:m.fset.Position(n.End()).Offset])
}

func (m *mutator) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.BinaryExpr:
		for _, op := range swaps[n.Op] {
			m.add(n.OpPos, n.OpPos+token.Pos(len(n.Op.String())), op.String(),
				fmt.Sprintf("%s -> %s", n.Op, op))
		}
	case *ast.UnaryExpr:
		if n.Op == token.NOT {
			m.add(n.OpPos, n.OpPos+1, "", "drop !")
		}
	case *ast.Ident:
		switch n.Name {
		case "true":
			m.add(n.Pos(), n.End(), "false", "true -> false")
		case "false":
			m.add(n.Pos(), n.End(), "true", "false -> true")
		}
	case *ast.BasicLit:
		if n.Kind == token.INT {
			if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				m.add(n.Pos(), n.End(), strconv.FormatInt(v+1, 10), fmt.Sprintf("%s -> %d", n.Value, v+1))
			}
		}
	case *ast.ExprStmt:
		if call, ok := n.X.(*ast.CallExpr); ok && !isLogCall(call) {
			m.add(n.Pos(), n.End(), "{}", "drop call "+firstLine(m.text(n)))
		}
	case *ast.DeferStmt:
		m.add(n.Pos(), n.End(), "{}", "drop "+firstLine(m.text(n)))
	case *ast.CallExpr:
		m.constantTimeMutants(n)
	}
	return true
}

// constantTimeMutants weakens a MAC comparison in the two ways that
// functional tests tend to miss: comparing only a prefix, and comparing with
// an early-exit string comparison.
func (m *mutator) constantTimeMutants(call *ast.CallExpr) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || len(call.Args) != 2 {
		return
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || !(pkg.Name == "hmac" && sel.Sel.Name == "Equal" || pkg.Name == "subtle" && sel.Sel.Name == "ConstantTimeCompare") {
		return
	}
	a, b := m.text(call.Args[0]), m.text(call.Args[1])
	prefix := fmt.Sprintf("%s.%s((%s)[:16], (%s)[:16])", pkg.Name, sel.Sel.Name, a, b)
	m.add(call.Pos(), call.End(), prefix, "compare only the first 16 bytes of the MAC")
	if sel.Sel.Name == "Equal" {
		m.add(call.Pos(), call.End(), fmt.Sprintf("(string(%s) == string(%s))", a, b), "compare MACs with ==")
	}
}

// isLogCall reports whether call only logs: dropping it changes no answer.
func isLogCall(call *ast.CallExpr) bool {
	var name string
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		name = fn.Name
	case *ast.SelectorExpr:
		name = fn.Sel.Name
	}
	switch name {
	case "log", "Log", "LogAttrs", "Debug", "Info", "Warn", "Error", "DebugContext", "InfoContext", "WarnContext", "ErrorContext":
		return true
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	return s
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(2)
}
