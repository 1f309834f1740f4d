// Package keptjson lets a value decoded from JSON be encoded back without
// losing anything the sender wrote.
//
// Skyvern's documents carry more than the typed Go structs model: explicit
// nulls and empty values, server-side extras, and keys that newer servers
// add. A value read from the API must survive being stored, compared or
// passed on. So a value decoded from JSON remembers the object it came from
// (its raw bytes) and how its typed fields encoded right after decoding (its
// snapshot), both in a [Kept]. Encoding it again then gives the raw bytes
// unchanged (byte for byte, the sender's key order included) when the typed
// fields were not touched, and otherwise the raw object with exactly the
// top-level keys whose typed encoding changed replaced (or removed, when a
// field was cleared). Values built in Go have no raw bytes and encode from
// their typed fields only.
//
// Snapshot and re-encoding must come from the same encoder, or every value
// would look edited; [Marshal] is that encoder, and the owners of a [Kept]
// encode their typed fields with it.
package keptjson

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Kept is the memory of a decoded value: the JSON it was decoded from and
// the encoding of its typed fields at that moment. The zero Kept is a value
// built in Go. A type embeds a Kept as an unexported field, encodes through
// [Kept.Encode] in MarshalJSON and records through [Decode] (or
// [Kept.Keep], [Kept.Record]) in UnmarshalJSON.
type Kept struct {
	raw      json.RawMessage
	snapshot []byte
}

// Raw returns the JSON the value was decoded from, or nil for a value built
// in Go. The caller must not modify it.
func (k Kept) Raw() json.RawMessage { return k.raw }

// Encode returns the JSON for a value whose typed fields encode as typed;
// its arguments are what [Marshal] (or another encoder used for the
// snapshot too) returns, so that MarshalJSON can pass them straight on.
func (k Kept) Encode(typed []byte, err error) ([]byte, error) {
	switch {
	case err != nil:
		return nil, err
	case k.raw == nil:
		return typed, nil
	case bytes.Equal(typed, k.snapshot):
		return k.raw, nil
	}
	return Patch(k.raw, k.snapshot, typed)
}

// Keep records data (copied: a json.Unmarshaler must not keep the decoder's
// buffer) and snapshot, the typed encoding of the value decoded from it.
// It is for owners whose snapshot is not plain [Marshal] of the decoded
// value, such as values that fill fields in after decoding or add a
// discriminator key.
func (k *Kept) Keep(data, snapshot []byte) {
	k.raw = append(json.RawMessage(nil), data...)
	k.snapshot = snapshot
}

// Record is [Kept.Keep] for a buffer that the caller hands over, so it is
// not copied again; v is the value just decoded from raw, whose [Marshal]
// encoding becomes the snapshot.
func (k *Kept) Record(raw []byte, v any) error {
	snapshot, err := Marshal(v)
	if err != nil {
		return err
	}
	k.raw, k.snapshot = raw, snapshot
	return nil
}

// Decode decodes data into v, a pointer to a method-less copy of the
// owner's type (so that decoding does not recurse into UnmarshalJSON), and
// records data with v's encoding in k. JSON null leaves v and k unchanged,
// as encoding/json does for other types.
func Decode(data []byte, v any, k *Kept) error {
	if !HasValue(data) {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	snapshot, err := Marshal(v)
	if err != nil {
		return err
	}
	k.Keep(data, snapshot)
	return nil
}

// HasValue reports whether raw holds a JSON value other than null.
func HasValue(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// Marshal encodes v as JSON without HTML escaping, so that prompts and URLs
// reach the server as written, and without encoding/json's trailing
// newline. A json.RawMessage is returned as it is.
func Marshal(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Equal reports whether a and b encode to the same JSON value, key order
// and spacing aside. It backs the Equal methods of the types that keep
// their JSON: go-cmp prefers an Equal method and cannot look into a Kept,
// and what a value would send is what decides whether two of them are the
// same. Values that cannot be encoded are compared as Go values.
func Equal(a, b any) bool {
	ja, errA := Marshal(a)
	jb, errB := Marshal(b)
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

// Patch applies to raw the top-level changes between two encodings of the
// same value, before and after: keys whose value changed or appeared are
// set, keys that disappeared are removed, every other key of raw stays as
// it was. All three must be JSON objects (raw may be null).
func Patch(raw, before, after []byte) ([]byte, error) {
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
	return Marshal(doc)
}
