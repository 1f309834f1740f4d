package skyvern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// keptJSON lets a decoded value be encoded back without losing anything the
// server sent.
//
// Skyvern's workflow documents carry more than the typed Go structs model:
// explicit nulls and defaults, server-side extras such as a block's
// output_parameter, and keys that newer servers add. A workflow read with
// GetWorkflow must survive being stored, compared or passed on. So a value
// decoded from JSON remembers the object it came from (raw) and how its typed
// fields encoded right after decoding (snapshot). Encoding it again then
// gives raw unchanged (byte for byte, the server's key order included) when
// the typed fields were not touched, and otherwise
// raw with exactly the top-level keys whose typed encoding changed replaced
// (or removed, when a field was cleared). Values built in Go have no raw and
// encode from their typed fields only.
type keptJSON struct {
	raw      json.RawMessage
	snapshot []byte
}

// encode returns the JSON for a value whose typed fields encode as typed
// (its arguments are what encodeTagged or encodeJSON return).
func (k keptJSON) encode(typed []byte, err error) ([]byte, error) {
	switch {
	case err != nil:
		return nil, err
	case k.raw == nil:
		return typed, nil
	case bytes.Equal(typed, k.snapshot):
		return k.raw, nil
	}
	return patchObject(k.raw, k.snapshot, typed)
}

// decodeKept decodes data into v, a pointer to a method-less copy of the
// owner's type, and records data with v's encoding. JSON null leaves
// everything unchanged, as encoding/json does for other types.
func decodeKept(data []byte, v any, k *keptJSON) error {
	if !hasJSONValue(data) {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	snapshot, err := encodeJSON(v)
	if err != nil {
		return err
	}
	k.keep(data, snapshot)
	return nil
}

// keep records data (copied: the decoder owns it) and the typed encoding of
// the value decoded from it.
func (k *keptJSON) keep(data, snapshot []byte) {
	k.raw = append(json.RawMessage(nil), data...)
	k.snapshot = snapshot
}

// record is keep for a buffer that the caller hands over, so it is not
// copied again; v is the value just decoded from raw.
func (k *keptJSON) record(raw []byte, v any) error {
	snapshot, err := encodeJSON(v)
	if err != nil {
		return err
	}
	k.raw, k.snapshot = raw, snapshot
	return nil
}

// Equal reports whether w and o encode to the same JSON value (key order
// and spacing aside), so keys the server sent that Workflow has no field for
// count too. go-cmp calls it, which lets tests compare workflows (and the
// blocks and parameters in them, which have Equal methods of their own) with
// cmp.Diff.
func (w Workflow) Equal(o Workflow) bool { return equalJSON(w, o) }

// equalJSON reports whether a and b encode to the same JSON value, key order
// and spacing aside. It backs the Equal methods of the types that keep their
// JSON: go-cmp prefers an Equal method and cannot look into keptJSON, and
// what a value would send is what decides whether two of them are the same.
// Values that cannot be encoded are compared as Go values.
func equalJSON(a, b any) bool {
	ja, errA := encodeJSON(a)
	jb, errB := encodeJSON(b)
	if errA != nil || errB != nil {
		return errA != nil && errB != nil && reflect.DeepEqual(a, b)
	}
	if bytes.Equal(ja, jb) {
		return true
	}
	va, errA := decodeNumbers(ja)
	vb, errB := decodeNumbers(jb)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// decodeNumbers decodes JSON into generic values, keeping numbers as
// written so that no precision is lost on the way.
func decodeNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// patchObject applies to raw the top-level changes between two encodings of
// the same value: keys whose value changed or appeared are set, keys that
// disappeared are removed, every other key of raw stays as it was.
func patchObject(raw, before, after []byte) ([]byte, error) {
	var doc, old, cur map[string]json.RawMessage
	for _, p := range []struct {
		src []byte
		dst *map[string]json.RawMessage
	}{{raw, &doc}, {before, &old}, {after, &cur}} {
		if err := json.Unmarshal(p.src, p.dst); err != nil {
			return nil, err
		}
	}
	if doc == nil {
		doc = make(map[string]json.RawMessage, len(cur))
	}
	for key, val := range cur {
		if prev, ok := old[key]; !ok || !bytes.Equal(prev, val) {
			doc[key] = val
		}
	}
	for key := range old {
		if _, ok := cur[key]; !ok {
			delete(doc, key)
		}
	}
	return encodeJSON(doc)
}

// encodeTagged encodes v, which must encode as a JSON object, with the
// discriminator key set to kind as its first member. Typed blocks and
// parameters have no field for their discriminator: their Go type is it.
func encodeTagged(key, kind string, v any) ([]byte, error) {
	body, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("skyvern: %s %q does not encode as a JSON object", key, kind)
	}
	tag, err := encodeJSON(kind)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+len(key)+len(tag)+4)
	out = append(out, `{"`...)
	out = append(out, key...)
	out = append(out, `":`...)
	out = append(out, tag...)
	if len(body) > 2 {
		out = append(out, ',')
		out = append(out, body[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, nil
}

// kindProbe reads the discriminators of a block or parameter object.
type kindProbe struct {
	BlockType     string `json:"block_type"`
	ParameterType string `json:"parameter_type"`
	Label         string `json:"label"`
	Key           string `json:"key"`
}

// probeKind reads the discriminators of data, which must be a JSON object or
// null.
func probeKind(data []byte) (kindProbe, error) {
	var p kindProbe
	err := json.Unmarshal(data, &p)
	return p, err
}

// decodeTagged is decodeKept for a block or parameter, whose encoding adds
// the discriminator key. It refuses data whose discriminator names another
// kind, so a navigation block can never be decoded into a TaskBlock and
// re-encoded as a hybrid.
func decodeTagged(data []byte, key, kind string, v any, k *keptJSON) error {
	if !hasJSONValue(data) {
		return nil
	}
	p, err := probeKind(data)
	if err != nil {
		return err
	}
	got := p.BlockType
	if key == parameterTypeKey {
		got = p.ParameterType
	}
	if got != kind {
		return fmt.Errorf("skyvern: cannot decode %s %q as %q", key, got, kind)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	snapshot, err := encodeTagged(key, kind, v)
	if err != nil {
		return err
	}
	k.keep(data, snapshot)
	return nil
}

// encodeList encodes a required list, writing [] for nil.
func encodeList[T any](items []T) ([]byte, error) {
	if items == nil {
		return []byte("[]"), nil
	}
	return encodeJSON(items)
}

// decodeList decodes a JSON array (or null, giving nil) element by element.
func decodeList[T any](data []byte, decode func(json.RawMessage) (T, error)) ([]T, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil || items == nil {
		return nil, err
	}
	out := make([]T, 0, len(items))
	for _, item := range items {
		v, err := decode(item)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
