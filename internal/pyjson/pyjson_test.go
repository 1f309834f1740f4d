package pyjson

import (
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skyvern-go/skyvern"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type vectorFile struct {
	Vectors []struct {
		Key       string `json:"key"`
		Body      string `json:"body"`
		Signature string `json:"signature"`
	} `json:"vectors"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/webhook-vectors.json")
	require.NoError(t, err)
	var vf vectorFile
	require.NoError(t, json.Unmarshal(raw, &vf))
	require.Len(t, vf.Vectors, 2)
	return vf
}

// TestEncoderMatchesSignatureVectors builds both reference payloads from Go
// values (the second from the floats 29.0 and 3.0, as Skyvern's test does)
// and checks the exact bytes and signatures.
func TestEncoderMatchesSignatureVectors(t *testing.T) {
	t.Parallel()
	vf := loadVectors(t)

	first := NewObject()
	first.Set("run_id", String("tsk_1"))
	first.Set("status", String("completed"))
	first.Set("step_count", Int("3"))

	output := NewObject()
	output.Set("price", Float(29.0))
	output.Set("rating", Float(4.5))
	output.Set("name", String("Café <b>&</b>"))
	second := NewObject()
	second.Set("run_id", String("wr_123"))
	second.Set("status", String("completed"))
	second.Set("output", output)
	second.Set("step_count", Float(3.0))
	second.Set("errors", Array{})

	for i, obj := range []*Object{first, second} {
		v := vf.Vectors[i]
		body := Encode(obj, Webhook)
		assert.Equal(t, v.Body, string(body), "vector %d body", i)
		assert.Equal(t, v.Signature, skyvern.Sign(body, v.Key), "vector %d signature", i)
	}

	// The same payload as a response keeps Pydantic's float form.
	assert.Equal(t,
		`{"run_id":"wr_123","status":"completed","output":{"price":29.0,"rating":4.5,"name":"Café <b>&</b>"},"step_count":3.0,"errors":[]}`,
		string(Encode(second, Response)))
}

// TestGoValuesMatchVector converts plain Go values the way skyverntest's
// Complete does.
func TestGoValuesMatchVector(t *testing.T) {
	t.Parallel()
	vf := loadVectors(t)
	type out struct {
		Price  float64 `json:"price"`
		Rating float64 `json:"rating"`
		Name   string  `json:"name"`
		Skip   string  `json:"skip,omitempty"`
	}
	type payload struct {
		RunID     string   `json:"run_id"`
		Status    string   `json:"status"`
		Output    out      `json:"output"`
		StepCount float64  `json:"step_count"`
		Errors    []string `json:"errors"`
	}
	v, err := ValueOf(payload{"wr_123", "completed", out{29, 4.5, "Café <b>&</b>", ""}, 3, []string{}})
	require.NoError(t, err)
	assert.Equal(t, vf.Vectors[1].Body, string(Encode(v, Webhook)))

	raw, err := ValueOf(json.RawMessage(vf.Vectors[1].Body))
	require.NoError(t, err)
	assert.Equal(t, vf.Vectors[1].Body, string(Encode(raw, Webhook)), "raw JSON keeps its order")
}

func TestFloatForms(t *testing.T) {
	t.Parallel()
	// Expected values printed by CPython 3 (json.dumps of int(x) or x) and
	// pydantic 2.13 (model_dump_json of an Any field).
	tests := []struct {
		in       float64
		python   string
		pydantic string
	}{
		{29.0, "29", "29.0"},
		{math.Copysign(0, -1), "0", "-0.0"},
		{4.5, "4.5", "4.5"},
		{0.1, "0.1", "0.1"},
		{1e-4, "0.0001", "0.0001"},
		{1e-5, "1e-05", "0.00001"},
		{1.5e-5, "1.5e-05", "0.000015"},
		{1.5e-7, "1.5e-07", "1.5e-7"},
		{-1e-7, "-1e-07", "-1e-7"},
		{5e-324, "5e-324", "5e-324"},
		{1e15, "1000000000000000", "1000000000000000.0"},
		{9999999999999998.0, "9999999999999998", "9999999999999998.0"},
		{1e16, "10000000000000000", "1e+16"},
		{1.5e16, "15000000000000000", "1.5e+16"},
		{1.2345678901234568e16, "12345678901234568", "1.2345678901234568e+16"},
		{123456.789, "123456.789", "123456.789"},
		{-2.5e-300, "-2.5e-300", "-2.5e-300"},
		{2.5e22, "24999999999999997902848", "2.5e+22"},
		{1e300, "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160", "1e+300"},
		{math.Inf(1), "null", "null"},
		{math.NaN(), "null", "null"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.python, string(Encode(Float(tt.in), Webhook)), "webhook %v", tt.in)
		assert.Equal(t, tt.pydantic, string(Encode(Float(tt.in), Response)), "response %v", tt.in)
	}
	// Python's repr, for floats json.dumps writes as floats.
	for in, want := range map[float64]string{1.5e-5: "1.5e-05", 1.25: "1.25", 1e22: "1e+22", 1.5e16: "1.5e+16", 1e15: "1000000000000000.0", 0.0001: "0.0001"} {
		assert.Equal(t, want, string(appendPythonFloat(nil, in)), "%v", in)
	}
}

func TestStringEscaping(t *testing.T) {
	t.Parallel()
	in := "a\"b\\c\b\f\n\r\t\x00\x1f\x7f é \u2028\u2029 <>& \xff 😀"
	want := `"a\"b\\c\b\f\n\r\t\u0000\u001f` + "\x7f é \u2028\u2029 <>& \uFFFD 😀\""
	assert.Equal(t, want, string(Encode(String(in), Webhook)))
	assert.Equal(t, want, string(Encode(String(in), Response)))
}

func TestParseKeepsOrderAndNumberKinds(t *testing.T) {
	t.Parallel()
	v, err := Parse([]byte(`{"b":1,"a":1.0,"c":[1e2,-0,12345678901234567890123],"b":2,"d":{"z":null,"y":true}}`))
	require.NoError(t, err)
	obj := v.(*Object)
	if diff := cmp.Diff([]string{"b", "a", "c", "d"}, obj.Keys()); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	assert.Equal(t, `{"b":2,"a":1.0,"c":[100.0,0,12345678901234567890123],"d":{"z":null,"y":true}}`, string(Encode(v, Response)))
	assert.Equal(t, `{"b":2,"a":1,"c":[100,0,12345678901234567890123],"d":{"z":null,"y":true}}`, string(Encode(v, Webhook)))

	for _, bad := range []string{``, `{`, `{"a":}`, `[1,]`, `{"a":1} x`, `nul`, `{"a":1}{}`} {
		_, err := Parse([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestObjectUpdateKeepsPositions(t *testing.T) {
	t.Parallel()
	base := NewObject()
	base.Set("task_id", String("t"))
	base.Set("status", String("running"))
	base.Set("browser_session_id", String("pbs_1"))
	upd := NewObject()
	upd.Set("run_id", String("t"))
	upd.Set("status", String("completed"))
	upd.Set("browser_session_id", Null{})
	base.Update(upd)
	assert.Equal(t, `{"task_id":"t","status":"completed","browser_session_id":null,"run_id":"t"}`, string(Encode(base, Webhook)))
	assert.Equal(t, `{"task_id":"t","run_id":"t"}`, string(Encode(base.Without("status", "browser_session_id"), Webhook)))
}

func TestToJSONValue(t *testing.T) {
	t.Parallel()
	type inner struct {
		When skyvern.Time `json:"when"`
	}
	type embedded struct {
		E int `json:"e"`
	}
	type sample struct {
		embedded
		Map     map[string]any `json:"map"`
		Bytes   []byte         `json:"bytes"`
		Nil     *int           `json:"nil"`
		NilList []int          `json:"nil_list"`
		Num     json.Number    `json:"num"`
		Time    time.Time      `json:"time"`
		Inner   inner          `json:"inner"`
		Ignored string         `json:"-"`
	}
	ts := time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC)
	v, err := ValueOf(sample{
		embedded: embedded{7}, Map: map[string]any{"b": 1, "a": 2.0}, Bytes: []byte("hi"),
		Num: "1.50", Time: ts, Inner: inner{skyvern.NewTime(ts)},
	})
	require.NoError(t, err)
	assert.Equal(t,
		`{"e":7,"map":{"a":2.0,"b":1},"bytes":"aGk=","nil":null,"nil_list":null,"num":1.5,"time":"2026-01-31T15:20:42.160725Z","inner":{"when":"2026-01-31T15:20:42.160725"}}`,
		string(Encode(v, Response)))

	_, err = ValueOf(map[string]any{"f": func() {}})
	assert.Error(t, err)
	_, err = ValueOf(make(chan int))
	assert.Error(t, err)
	type cyclic struct {
		Next *cyclic `json:"next"`
	}
	c := &cyclic{}
	c.Next = c
	_, err = ValueOf(c)
	assert.Error(t, err, "a cycle is an error, not a stack overflow")
}
