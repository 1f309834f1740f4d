package skyvern

// The wire shapes of workflow blocks and parameters: the discriminator key
// that their Go type stands for, and the lists that hold them. Keeping what
// the server sent is internal/keptjson's part.

import (
	"encoding/json"
	"fmt"

	"github.com/skyvern-go/skyvern/internal/keptjson"
)

// Equal reports whether w and o encode to the same JSON value (key order
// and spacing aside), so keys the server sent that Workflow has no field for
// count too. go-cmp calls it, which lets tests compare workflows (and the
// blocks and parameters in them, which have Equal methods of their own) with
// cmp.Diff.
func (w Workflow) Equal(o Workflow) bool { return keptjson.Equal(w, o) }

// encodeTagged encodes v, which must encode as a JSON object, with the
// discriminator key set to kind as its first member. Typed blocks and
// parameters have no field for their discriminator: their Go type is it.
func encodeTagged(key, kind string, v any) ([]byte, error) {
	body, err := keptjson.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("skyvern: %s %q does not encode as a JSON object", key, kind)
	}
	tag, err := keptjson.Marshal(kind)
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

// decodeTagged is [keptjson.Decode] for a block or parameter, whose
// encoding adds the discriminator key. It refuses data whose discriminator names another
// kind, so a navigation block can never be decoded into a TaskBlock and
// re-encoded as a hybrid.
func decodeTagged(data []byte, key, kind string, v any, k *keptjson.Kept) error {
	if !keptjson.HasValue(data) {
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
	k.Keep(data, snapshot)
	return nil
}

// encodeList encodes a required list, writing [] for nil.
func encodeList[T any](items []T) ([]byte, error) {
	if items == nil {
		return []byte("[]"), nil
	}
	return keptjson.Marshal(items)
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
