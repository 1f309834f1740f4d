package skyvern

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync/atomic"

	"github.com/skyvern-go/skyvern/internal/jsonspan"
)

// maxInlineValue is the largest value of a spilled body that is decoded
// into memory; larger ones stay in the spill file.
const maxInlineValue = 64 << 10

// LargeBody is a verified webhook body too large to decode in memory (see
// WithMemoryBodyBytes). It lives in a temporary file that the handler
// removes when it returns: read what you need from it inside the handler's
// function, or copy it to storage of your own. Reads after that fail with
// an error matching os.ErrClosed.
//
// The payload's small fields are decoded as usual; each top-level value
// longer than 64 KiB, or beyond the memory budget, is left in the file
// instead, and its typed field stays zero. Value returns such a value as
// raw JSON, exactly as Skyvern sent it.
type LargeBody struct {
	file   spillFile
	size   int64
	values []jsonspan.Span
	closed atomic.Bool
}

// Size returns the body's length in bytes.
func (b *LargeBody) Size() int64 { return b.size }

// Reader returns a reader over the whole raw body, the bytes that Skyvern
// signed. Each call returns a new reader that starts at the beginning.
func (b *LargeBody) Reader() *io.SectionReader {
	return io.NewSectionReader(bodyFile{b}, 0, b.size)
}

// Value returns a reader over the raw JSON of the top-level field name
// (a wire name such as "output", "outputs" or "run_request") if that value
// was left in the file, and false if the field was decoded into the
// payload or is absent. Each call returns a new reader.
func (b *LargeBody) Value(name string) (*io.SectionReader, bool) {
	for _, v := range b.values {
		if v.Name == name {
			return io.NewSectionReader(bodyFile{b}, v.Offset, v.Length), true
		}
	}
	return nil, false
}

// Names returns the wire names of the values left in the file, in the
// order of the body.
func (b *LargeBody) Names() []string {
	names := make([]string, len(b.values))
	for i, v := range b.values {
		names[i] = v.Name
	}
	return names
}

// close removes the file; it is safe on nil and more than once.
func (b *LargeBody) close() {
	if b != nil && !b.closed.Swap(true) {
		_ = b.file.Close()
	}
}

// bodyFile reads the spill file while it is open.
type bodyFile struct{ b *LargeBody }

func (f bodyFile) ReadAt(p []byte, off int64) (int, error) {
	if f.b.closed.Load() {
		return 0, errBodyUnavailable
	}
	return f.b.file.ReadAt(p, off)
}

// Spilled reports whether the delivery was too large to decode in memory.
// Its large values are then in Large, not in the typed fields, and Raw is
// nil.
func (p *WebhookPayload) Spilled() bool { return p.Large != nil }

// RawReader returns a reader over the raw body as received, the bytes that
// Skyvern signed, whether it is held in memory (Raw) or was spilled to disk
// (Large). Prefer it to Raw where a body may be large: persist a delivery
// with it, for example, and process it later from your own storage.
func (p *WebhookPayload) RawReader() io.Reader {
	if p.Large != nil {
		return p.Large.Reader()
	}
	return bytes.NewReader(p.Raw)
}

// LargeValue returns a reader over the raw JSON of the top-level field name
// of a spilled payload, if that value was left on disk (see LargeBody.Value).
// It returns false for payloads that were not spilled.
func (p *WebhookPayload) LargeValue(name string) (*io.SectionReader, bool) {
	if p.Large == nil {
		return nil, false
	}
	return p.Large.Value(name)
}

// decodeSpilled decodes a verified body held in a spill file: the members
// that fit budget in memory as a payload, the others as spans of the file.
// Errors are a *PayloadError for a body that is not a valid payload, or the
// file's read error.
func decodeSpilled(body *receivedBody, budget int64) (*WebhookPayload, error) {
	res, err := jsonspan.Members(io.NewSectionReader(body.file, 0, body.size), int(min(budget, 1<<30)), maxInlineValue)
	var syntaxErr *jsonspan.SyntaxError
	switch {
	case errors.As(err, &syntaxErr) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &PayloadError{Err: err}
	case err != nil:
		return nil, err
	}
	p := new(WebhookPayload)
	if err := p.decode(res.Small); err != nil {
		return nil, err
	}
	p.Raw = nil // Raw is the whole body, which is not in memory
	p.Large = &LargeBody{file: body.file, size: body.size, values: res.Large}
	return p, nil
}

// largeJSON returns the reader of a large value unless it is JSON null,
// which the typed fields hold as absent too.
func (p *WebhookPayload) largeJSON(name string) (io.Reader, bool) {
	r, ok := p.LargeValue(name)
	if !ok {
		return nil, false
	}
	if r.Size() == int64(len("null")) {
		var four [4]byte
		if _, err := r.ReadAt(four[:], 0); err == nil && bytes.Equal(four[:], []byte("null")) {
			return nil, false
		}
	}
	return r, true
}

// decodeLarge decodes a large value of a spilled payload into v.
func decodeLarge(r io.Reader, field string, v any) error {
	if err := json.NewDecoder(r).Decode(v); err != nil {
		if errors.Is(err, errBodyUnavailable) {
			return err
		}
		return &PayloadError{Field: field, Err: err}
	}
	return nil
}
