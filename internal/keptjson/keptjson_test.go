package keptjson_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern/internal/keptjson"
)

// doc is an owner of a Kept, shaped as the SDK's types are: a
// method-less copy decodes and encodes the typed fields.
type doc struct {
	Name  string   `json:"name,omitempty"`
	Count *int     `json:"count,omitempty"`
	Tags  []string `json:"tags,omitempty"`

	kept keptjson.Kept
}

func (d *doc) UnmarshalJSON(data []byte) error {
	type plain doc
	return keptjson.Decode(data, (*plain)(d), &d.kept)
}

func (d doc) MarshalJSON() ([]byte, error) {
	type plain doc
	return d.kept.Encode(keptjson.Marshal(plain(d)))
}

func decode(t *testing.T, data string) doc {
	t.Helper()
	var d doc
	require.NoError(t, json.Unmarshal([]byte(data), &d))
	return d
}

// encode encodes v as the SDK sends it: json.Marshal would escape HTML in
// what MarshalJSON returns.
func encode(t *testing.T, v any) string {
	t.Helper()
	out, err := keptjson.Marshal(v)
	require.NoError(t, err)
	return string(out)
}

// The sender's bytes come back unchanged when nothing was edited: its key
// order, its explicit nulls and empty values, the keys no field models.
func TestUneditedValueEncodesAsReceived(t *testing.T) {
	t.Parallel()
	const sent = `{"z_extra":{"b":1,"a":2},"name":"n","tags":[],"count":null,"url":"a<b>&c"}`
	d := decode(t, sent)
	assert.Equal(t, sent, string(d.kept.Raw()))
	assert.Equal(t, sent, encode(t, d))
	assert.Equal(t, sent, encode(t, &d), "through a pointer too")
}

func TestEditReplacesOnlyChangedKeys(t *testing.T) {
	t.Parallel()
	const sent = `{"extra":[1,2],"name":"n","tags":["a"],"count":null}`
	for _, tc := range []struct {
		name string
		edit func(*doc)
		want string
	}{
		{"changed", func(d *doc) { d.Name = "m" }, `{"count":null,"extra":[1,2],"name":"m","tags":["a"]}`},
		{"added", func(d *doc) { n := 0; d.Count = &n }, `{"count":0,"extra":[1,2],"name":"n","tags":["a"]}`},
		{"cleared", func(d *doc) { d.Tags = nil }, `{"count":null,"extra":[1,2],"name":"n"}`},
		{"no HTML escaping", func(d *doc) { d.Name = "<&>" }, `{"count":null,"extra":[1,2],"name":"<&>","tags":["a"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := decode(t, sent)
			tc.edit(&d)
			// Exact bytes: the untouched keys' values are the sender's.
			assert.Equal(t, tc.want, encode(t, d))
		})
	}
}

func TestBuiltInGoEncodesTypedFieldsOnly(t *testing.T) {
	t.Parallel()
	n := 3
	d := doc{Name: "a&b", Count: &n}
	assert.Nil(t, d.kept.Raw())
	assert.Equal(t, `{"name":"a&b","count":3}`, encode(t, d))
	assert.Equal(t, `{}`, encode(t, doc{}))
}

func TestDecodeNullLeavesValueAlone(t *testing.T) {
	t.Parallel()
	for _, sent := range []string{`null`, ` null `} {
		d := doc{Name: "kept"}
		require.NoError(t, keptjson.Decode([]byte(sent), &d.Name, &d.kept))
		assert.Equal(t, "kept", d.Name)
		assert.Nil(t, d.kept.Raw())
	}
	var ds []doc
	require.NoError(t, json.Unmarshal([]byte(`[null,{"name":"x","more":1}]`), &ds))
	require.Len(t, ds, 2)
	assert.Equal(t, `{}`, encode(t, ds[0]))
	assert.Equal(t, `{"name":"x","more":1}`, encode(t, ds[1]))
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	var d doc
	assert.Error(t, json.Unmarshal([]byte(`{"name":1}`), &d))
	var typeErr *json.UnmarshalTypeError
	assert.ErrorAs(t, keptjson.Decode([]byte(`{"name":1}`), &struct {
		Name string `json:"name"`
	}{}, &d.kept), &typeErr)
	assert.Nil(t, d.kept.Raw(), "nothing kept from a failed decode")
}

// Keep copies what it is given, since a json.Unmarshaler's data belongs to
// the decoder; Record takes a buffer over as it is.
func TestKeepCopiesRecordDoesNot(t *testing.T) {
	t.Parallel()
	data := []byte(`{"name":"a"}`)
	var kept, recorded keptjson.Kept
	kept.Keep(data, []byte(`{"name":"a"}`))
	require.NoError(t, recorded.Record(data, struct {
		Name string `json:"name"`
	}{"a"}))
	data[9] = 'b'
	assert.Equal(t, `{"name":"a"}`, string(kept.Raw()))
	assert.Equal(t, `{"name":"b"}`, string(recorded.Raw()))

	// The snapshot is the Marshal encoding of the value: encoding it
	// unchanged gives the recorded bytes, an edit patches them.
	out, err := recorded.Encode(keptjson.Marshal(struct {
		Name string `json:"name"`
	}{"a"}))
	require.NoError(t, err)
	assert.Equal(t, `{"name":"b"}`, string(out))
	out, err = recorded.Encode(keptjson.Marshal(struct {
		Name string `json:"name"`
	}{"c"}))
	require.NoError(t, err)
	assert.Equal(t, `{"name":"c"}`, string(out))
}

func TestEncodePassesErrorsOn(t *testing.T) {
	t.Parallel()
	d := decode(t, `{"name":"a"}`)
	_, err := d.kept.Encode(keptjson.Marshal(make(chan int)))
	var unsupported *json.UnsupportedTypeError
	assert.ErrorAs(t, err, &unsupported)
}

func TestPatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, before, after, want string
	}{
		{"unchanged keys stay as sent", `{"a":1.50,"b":2}`, `{"a":1.5,"b":2}`, `{"a":1.5,"b":3}`, `{"a":1.50,"b":3}`},
		{"keys without a field stay as sent", `{"a":1.50,"b":2}`, `{"b":2}`, `{"b":3}`, `{"a":1.50,"b":3}`},
		{"removed", `{"a":1,"b":2}`, `{"a":1,"b":2}`, `{"a":1}`, `{"a":1}`},
		{"key only the sender had is kept", `{"x":null,"a":1}`, `{"a":1}`, `{}`, `{"x":null}`},
		{"null raw", `null`, `{}`, `{"a":1}`, `{"a":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := keptjson.Patch([]byte(tc.raw), []byte(tc.before), []byte(tc.after))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
	for _, bad := range [][3]string{
		{`[1]`, `{}`, `{}`},
		{`{}`, `"s"`, `{}`},
		{`{}`, `{}`, `{`},
	} {
		_, err := keptjson.Patch([]byte(bad[0]), []byte(bad[1]), []byte(bad[2]))
		assert.Error(t, err, "Patch(%s, %s, %s)", bad[0], bad[1], bad[2])
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	a := decode(t, `{"name":"n", "extra":{"x":1,"y":[1,2]}}`)
	for _, tc := range []struct {
		name string
		a, b any
		want bool
	}{
		{"same bytes", a, a, true},
		{"key order and spacing aside", a, decode(t, `{"extra":{"y":[1, 2],"x":1},"name":"n"}`), true},
		{"extra key differs", a, decode(t, `{"name":"n","extra":{"x":2,"y":[1,2]}}`), false},
		{"extra key missing", a, decode(t, `{"name":"n"}`), false},
		{"typed field edited", a, func() doc { d := a; d.Name = "m"; return d }(), false},
		{"built in Go equals decoded", doc{Name: "n"}, decode(t, `{"name":"n"}`), true},
		{"large numbers keep their precision",
			json.RawMessage(`{"n":12345678901234567890}`), json.RawMessage(`{"n":12345678901234567891}`), false},
		{"same large number", json.RawMessage(`{"n":12345678901234567890,"m":1}`), json.RawMessage(`{"m":1,"n":12345678901234567890}`), true},
		{"unencodable values compare as Go values", make(chan int), make(chan int), false},
		{"unencodable against encodable", make(chan int), doc{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, keptjson.Equal(tc.a, tc.b))
			assert.Equal(t, tc.want, keptjson.Equal(tc.b, tc.a), "symmetric")
		})
	}
	ch := make(chan int)
	assert.True(t, keptjson.Equal(ch, ch), "an unencodable value equals itself")
}

func TestMarshal(t *testing.T) {
	t.Parallel()
	out, err := keptjson.Marshal(map[string]string{"url": "https://x.test/?a=1&b=<2>"})
	require.NoError(t, err)
	assert.Equal(t, `{"url":"https://x.test/?a=1&b=<2>"}`, string(out), "no HTML escaping, no trailing newline")

	raw := json.RawMessage(` {"as":"sent"} `)
	out, err = keptjson.Marshal(raw)
	require.NoError(t, err)
	assert.Equal(t, string(raw), string(out), "a RawMessage is passed through")

	_, err = keptjson.Marshal(func() {})
	assert.Error(t, err)
}

func TestHasValue(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		``: false, `null`: false, " \n null\t": false, `0`: true, `""`: true, `{}`: true, `[]`: true, `nullx`: true,
	} {
		assert.Equal(t, want, keptjson.HasValue(json.RawMessage(raw)), "%q", raw)
	}
}
