// Package pyjson writes JSON byte for byte as Skyvern's Python server does,
// so that the fake server in skyverntest answers with the real server's
// bytes and signs webhooks over the bodies the real signer would sign. It
// keeps what encoding/json loses (key order, 3 against 3.0) and matches two
// serializers: Pydantic's for responses and json.dumps for webhook bodies.
package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value is a JSON document that keeps what Python keeps and encoding/json
// loses: the insertion order of object keys and the difference between the
// integer 3 and the float 3.0. The fake server's bytes depend on both.
//
// Values are treated as immutable once stored in the server's state; the only
// mutating operations ([Object.Set], [Object.Update]) are applied to freshly
// built objects. The set of Value types is closed: only this package's types
// implement it.
type Value interface {
	appendTo(b []byte, mode Mode) []byte
}

// Null is JSON null, Python's None.
type Null struct{}

// Bool is a JSON boolean.
type Bool bool

// String is a JSON string.
type String string

// Int holds the canonical decimal digits of an integer of any size, as
// Python's int would print them.
type Int string

// Float is a JSON number that Python reads as a float (its literal has a
// fraction or an exponent): 3.0 stays a Float, distinct from the [Int] 3.
type Float float64

// Array is a JSON array; a nil element is written as null.
type Array []Value

// Object is an ordered object with Python dict semantics: setting an
// existing key replaces its value in place; a new key is appended.
type Object struct {
	members []Member
	index   map[string]int
}

// Member is one key and its value in an [Object].
type Member struct {
	Key   string
	Value Value
}

// Mode selects whose serializer the bytes of [Encode] must match.
type Mode int

const (
	// Response matches Pydantic's model_dump_json, which FastAPI uses for
	// every response body.
	Response Mode = iota
	// Webhook matches the webhook signer: json.dumps with compact separators
	// and ensure_ascii=False, after every whole-number float has been turned
	// into an int.
	Webhook
)

// NewObject returns an empty [Object].
func NewObject() *Object { return &Object{index: map[string]int{}} }

// Set gives key the value v (null when v is nil), in place when key is
// already present and at the end otherwise, as assigning to a dict does.
func (o *Object) Set(key string, v Value) {
	if v == nil {
		v = Null{}
	}
	if i, ok := o.index[key]; ok {
		o.members[i].Value = v
		return
	}
	o.index[key] = len(o.members)
	o.members = append(o.members, Member{key, v})
}

// Get returns the value of key and whether o has it.
func (o *Object) Get(key string) (Value, bool) {
	i, ok := o.index[key]
	if !ok {
		return nil, false
	}
	return o.members[i].Value, true
}

// Keys returns the keys of o in order.
func (o *Object) Keys() []string {
	ks := make([]string, len(o.members))
	for i, m := range o.members {
		ks[i] = m.Key
	}
	return ks
}

// Members returns the members of o in order. The slice is o's own, shared
// rather than copied because callers only range over it: it must not be
// changed.
func (o *Object) Members() []Member { return o.members }

// Update merges other into o the way Python's dict.update does.
func (o *Object) Update(other *Object) {
	for _, m := range other.members {
		o.Set(m.Key, m.Value)
	}
}

// Without returns a copy of o minus the given keys.
func (o *Object) Without(keys ...string) *Object {
	skip := make(map[string]bool, len(keys))
	for _, k := range keys {
		skip[k] = true
	}
	out := NewObject()
	for _, m := range o.members {
		if !skip[m.Key] {
			out.Set(m.Key, m.Value)
		}
	}
	return out
}

// Encode returns the bytes of v as the serializer that mode names would
// write them; a nil v is null.
func Encode(v Value, mode Mode) []byte {
	if v == nil {
		return []byte("null")
	}
	return v.appendTo(make([]byte, 0, 256), mode)
}

func (Null) appendTo(b []byte, _ Mode) []byte { return append(b, "null"...) }

func (v Bool) appendTo(b []byte, _ Mode) []byte { return strconv.AppendBool(b, bool(v)) }

func (v String) appendTo(b []byte, _ Mode) []byte { return appendString(b, string(v)) }

func (v Int) appendTo(b []byte, _ Mode) []byte { return append(b, v...) }

func (v Float) appendTo(b []byte, mode Mode) []byte {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// Pydantic writes non-finite floats as null, and the webhook body is
		// built from Pydantic's output, so both paths end up with null.
		return append(b, "null"...)
	}
	if mode == Webhook {
		if f == math.Trunc(f) {
			if f == 0 {
				return append(b, '0')
			}
			// Exact digits, as Python's int(f) would give for 1e300.
			return strconv.AppendFloat(b, f, 'f', 0, 64)
		}
		return appendPythonFloat(b, f)
	}
	return appendPydanticFloat(b, f)
}

func (v Array) appendTo(b []byte, mode Mode) []byte {
	b = append(b, '[')
	for i, e := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if e == nil {
			e = Null{}
		}
		b = e.appendTo(b, mode)
	}
	return append(b, ']')
}

func (o *Object) appendTo(b []byte, mode Mode) []byte {
	b = append(b, '{')
	for i, m := range o.members {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.Key)
		b = append(b, ':')
		b = m.Value.appendTo(b, mode)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way both Python's json module
// (ensure_ascii=False) and Pydantic do: raw UTF-8, no HTML escaping, U+2028
// and U+2029 left raw, the short escapes \" \\ \b \f \n \r \t, and \u00XX with
// lowercase hex for the other control characters. Invalid UTF-8 becomes
// U+FFFD, as neither serializer can emit it.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				if c < 0x20 {
					b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				} else {
					b = append(b, c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// shortestDigits returns the shortest decimal digits that round-trip |f| and
// the exponent of the first digit (|f| = d.ddd × 10^exp). f must be finite
// and non-zero.
func shortestDigits(f float64) (digits string, exp int) {
	s := strconv.FormatFloat(math.Abs(f), 'e', -1, 64)
	mant, e, _ := strings.Cut(s, "e")
	exp, _ = strconv.Atoi(e)
	return strings.Replace(mant, ".", "", 1), exp
}

// appendPythonFloat writes f as Python's repr does: fixed notation with at
// least one fraction digit when the exponent is in [-4, 16), otherwise
// d.ddde±XX with a signed, two-digit-minimum exponent (4.5, 1e-05, 1e+16).
func appendPythonFloat(b []byte, f float64) []byte {
	b, digits, exp, done := appendFloatStart(b, f)
	switch {
	case done:
		return b
	case exp >= -4 && exp < 16:
		return appendFixed(b, digits, exp+1)
	}
	b = appendMantissa(b, digits)
	if exp < 0 {
		b = append(b, '-')
		exp = -exp
	} else {
		b = append(b, '+')
	}
	if exp < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(exp), 10)
}

// appendPydanticFloat writes f as pydantic-core does (checked against
// pydantic 2.13 / pydantic-core 2.46): fixed notation while the decimal
// point falls within 16 digits of the start and for small numbers down to
// 1e-5, otherwise d.ddde±X without padding (29.0, 0.00001, 1e+16, 1e-6).
func appendPydanticFloat(b []byte, f float64) []byte {
	b, digits, exp, done := appendFloatStart(b, f)
	switch {
	case done:
		return b
	case exp+1 > -5 && exp+1 <= 16:
		return appendFixed(b, digits, exp+1)
	}
	b = appendMantissa(b, digits)
	if exp >= 0 {
		b = append(b, '+')
	}
	return strconv.AppendInt(b, int64(exp), 10)
}

// appendFloatStart writes a zero in full (done is true), or the sign of a
// non-zero f and returns its shortest digits and decimal exponent.
func appendFloatStart(b []byte, f float64) (_ []byte, digits string, exp int, done bool) {
	if f == 0 {
		if math.Signbit(f) {
			return append(b, "-0.0"...), "", 0, true
		}
		return append(b, "0.0"...), "", 0, true
	}
	if f < 0 {
		b = append(b, '-')
	}
	digits, exp = shortestDigits(f)
	return b, digits, exp, false
}

// appendMantissa writes d.ddd (or d alone) and the 'e' of scientific form.
func appendMantissa(b []byte, digits string) []byte {
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	return append(b, 'e')
}

// appendFixed writes digits with the decimal point after point digits
// (point may be <= 0 or past the end), always with a fraction part.
func appendFixed(b []byte, digits string, point int) []byte {
	switch {
	case point <= 0:
		b = append(b, '0', '.')
		for i := 0; i < -point; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	case point >= len(digits):
		b = append(b, digits...)
		for i := len(digits); i < point; i++ {
			b = append(b, '0')
		}
		return append(b, '.', '0')
	default:
		b = append(b, digits[:point]...)
		b = append(b, '.')
		return append(b, digits[point:]...)
	}
}

// SyntaxError marks a body that is not valid JSON; the offset is kept for
// the 422 location, as FastAPI reports the character position.
type SyntaxError struct {
	Offset int64  // in bytes from the start of the body
	Msg    string // what is wrong there
}

// Error names the offset and what is wrong there.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// Parse decodes data into a [Value], keeping key order (a repeated key
// keeps its first position and its last value, like Python's json.loads) and
// telling integers from floats by their literal, as Python does.
func Parse(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, newSyntaxError(dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Msg: "Extra data"}
	}
	return v, nil
}

// newSyntaxError reports err, met while decoding, as a [*SyntaxError].
func newSyntaxError(dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &SyntaxError{Offset: dec.InputOffset(), Msg: "Expecting value"}
	}
	return &SyntaxError{Offset: dec.InputOffset(), Msg: err.Error()}
}

func parseValue(dec *json.Decoder) (Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return Null{}, nil
	case bool:
		return Bool(t), nil
	case string:
		return String(t), nil
	case json.Number:
		return numberValue(string(t))
	case json.Delim:
		switch t {
		case '{':
			obj := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %T", kt)
				}
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				obj.Set(key, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		case '[':
			arr := Array{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// numberValue classifies a JSON number literal the way Python's json module
// does: a fraction or exponent makes a float, anything else an int of any
// size.
func numberValue(lit string) (Value, error) {
	if strings.ContainsAny(lit, ".eE") {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			var ne *strconv.NumError
			if !errors.As(err, &ne) || !errors.Is(ne.Err, strconv.ErrRange) {
				return nil, err
			}
		}
		return Float(f), nil
	}
	if lit == "-0" {
		return Int("0"), nil
	}
	if _, err := strconv.ParseFloat(lit, 64); err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || !errors.Is(ne.Err, strconv.ErrRange) {
			return nil, fmt.Errorf("invalid number %q", lit)
		}
	}
	return Int(lit), nil
}
