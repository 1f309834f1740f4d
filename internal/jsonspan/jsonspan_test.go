package jsonspan

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var seeds = []string{
	`{}`,
	` { } `,
	`{"a":1}`,
	`{"a":1,"b":"two","c":[1,2,{"d":null}],"e":{"f":true,"g":false}}`,
	`{"big":"` + strings.Repeat("x", 300) + `","small":1}`,
	`{"esc":"a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00","k\u0061y":-0.5e+10}`,
	`{"n":[0,-0,1.25,1E3,1e-3,-12.5E+2]}`,
	`{"dup":1,"dup":"` + strings.Repeat("y", 300) + `"}`,
	`{"dup":"` + strings.Repeat("y", 300) + `","dup":2}`,
	"{\"ws\"\t:\r\n [ 1 , 2 ] }\n",
	`{"a":"caf` + "\xc3\xa9" + `"}`,
	// Invalid documents.
	``, ` `, `[1,2]`, `"s"`, `null`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1}x`, `{"a":1}{}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`,
	`{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":[1 2]}`, `{"a":{"b" 1}}`, `{"a":{1:2}}`, `{a:1}`, `{"a":"open`,
	`{"a":[}`, `{"a":{]}`, `{"a":[1,2}`, `{"a":1 "b":2}`,
}

// check compares Members with encoding/json on doc.
func check(t *testing.T, doc []byte, budget, maxValue int) {
	t.Helper()
	res, err := Members(bytes.NewReader(doc), budget, maxValue)
	var want map[string]json.RawMessage
	wantErr := json.Unmarshal(doc, &want)
	if wantErr == nil && want == nil {
		wantErr = io.EOF // null: not an object
	}
	if wantErr != nil {
		require.Error(t, err, "encoding/json says %v", wantErr)
		return
	}
	require.NoError(t, err)
	got := map[string]json.RawMessage{}
	require.NoError(t, json.Unmarshal(res.Small, &got), "Small is valid JSON: %s", res.Small)
	assert.LessOrEqual(t, len(res.Small), max(budget, 0)+2)
	for _, sp := range res.Large {
		_, dup := got[sp.Name]
		require.False(t, dup, "%s is both small and large", sp.Name)
		got[sp.Name] = doc[sp.Offset : sp.Offset+sp.Length]
	}
	assert.Equal(t, want, got)
}

func TestMembers(t *testing.T) {
	t.Parallel()
	for _, doc := range seeds {
		for _, limits := range [][2]int{{1 << 20, 1 << 20}, {1 << 20, 100}, {40, 1 << 20}, {0, 0}} {
			check(t, []byte(doc), limits[0], limits[1])
		}
	}
}

func TestMembersSpans(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("z", 1000)
	doc := `{"run_id":"wr_1", "output" : {"v":"` + big + `"},"status":"completed","outputs":["` + big + `"]}`
	// One byte at a time: the reader's pieces do not matter.
	res, err := Members(iotest.OneByteReader(strings.NewReader(doc)), 1<<20, 64)
	require.NoError(t, err)
	assert.JSONEq(t, `{"run_id":"wr_1","status":"completed"}`, string(res.Small))
	require.Len(t, res.Large, 2)
	assert.Equal(t, "output", res.Large[0].Name)
	assert.Equal(t, `{"v":"`+big+`"}`, doc[res.Large[0].Offset:res.Large[0].Offset+res.Large[0].Length])
	assert.Equal(t, "outputs", res.Large[1].Name)
	assert.Equal(t, `["`+big+`"]`, doc[res.Large[1].Offset:res.Large[1].Offset+res.Large[1].Length])
}

func TestMembersErrors(t *testing.T) {
	t.Parallel()
	_, err := Members(strings.NewReader(`{"a":[1,2`), 100, 100)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = Members(strings.NewReader(`{"a":[1;2]}`), 100, 100)
	var syntaxErr *SyntaxError
	require.ErrorAs(t, err, &syntaxErr)
	assert.Equal(t, int64(8), syntaxErr.Offset)
	_, err = Members(io.MultiReader(strings.NewReader(`{"a":`), iotest.ErrReader(iotest.ErrTimeout)), 100, 100)
	assert.ErrorIs(t, err, iotest.ErrTimeout)
	_, err = Members(strings.NewReader(`{"a":`+strings.Repeat("[", maxDepth+1)+`}`), 100, 100)
	require.ErrorAs(t, err, &syntaxErr)
	_, err = Members(strings.NewReader(`{"`+strings.Repeat("k", maxKey)+`":1}`), 100, 100)
	require.ErrorAs(t, err, &syntaxErr)
}

func FuzzMembers(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), 64, 16)
	}
	f.Fuzz(func(t *testing.T, doc []byte, budget, maxValue int) {
		check(t, doc, budget%4096, maxValue%4096)
	})
}

func TestPlainPrefix(t *testing.T) {
	t.Parallel()
	naive := func(b []byte) int {
		i := 0
		for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
			i++
		}
		return i
	}
	// Every byte value at every place of a 20-byte run of plain bytes,
	// with plain neighbours that sit next to the special ones (0x21, 0x23,
	// 0x5b, 0x5d, 0x20, 0x80, 0xff) so that borrows between bytes show.
	for _, fill := range []byte{'a', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x80, 0xff} {
		for pos := 0; pos < 20; pos++ {
			for v := 0; v < 256; v++ {
				b := bytes.Repeat([]byte{fill}, 20)
				b[pos] = byte(v)
				for start := 0; start < 8; start++ {
					require.Equal(t, naive(b[start:]), plainPrefix(b[start:]), "fill %#x, byte %#x at %d", fill, v, pos)
				}
			}
		}
	}
}
