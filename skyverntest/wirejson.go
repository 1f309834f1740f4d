package skyverntest

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

// jsonValue is a JSON document that keeps what Python keeps and encoding/json
// loses: the insertion order of object keys and the difference between the
// integer 3 and the float 3.0. The server's bytes depend on both.
//
// Values are treated as immutable once stored in the server's state; the only
// mutating operations (set, update) are applied to freshly built objects.
type jsonValue interface {
	appendTo(b []byte, mode encodeMode) []byte
}

type (
	jsonNull   struct{}
	jsonBool   bool
	jsonString string
	// jsonInt holds the canonical decimal digits of an integer of any size,
	// as Python's int would print them.
	jsonInt   string
	jsonFloat float64
	jsonArray []jsonValue
)

// jsonObject is an ordered object with Python dict semantics: setting an
// existing key replaces its value in place; a new key is appended.
type jsonObject struct {
	members []jsonMember
	index   map[string]int
}

type jsonMember struct {
	key string
	val jsonValue
}

// encodeMode selects whose serializer the bytes must match.
type encodeMode int

const (
	// modeResponse matches Pydantic's model_dump_json, which FastAPI uses
	// for every response body.
	modeResponse encodeMode = iota
	// modeWebhook matches the webhook signer: json.dumps with compact
	// separators and ensure_ascii=False, after every whole-number float has
	// been turned into an int.
	modeWebhook
)

func newObject() *jsonObject { return &jsonObject{index: map[string]int{}} }

func (o *jsonObject) set(key string, v jsonValue) {
	if v == nil {
		v = jsonNull{}
	}
	if i, ok := o.index[key]; ok {
		o.members[i].val = v
		return
	}
	o.index[key] = len(o.members)
	o.members = append(o.members, jsonMember{key, v})
}

func (o *jsonObject) get(key string) (jsonValue, bool) {
	i, ok := o.index[key]
	if !ok {
		return nil, false
	}
	return o.members[i].val, true
}

func (o *jsonObject) keys() []string {
	ks := make([]string, len(o.members))
	for i, m := range o.members {
		ks[i] = m.key
	}
	return ks
}

// update merges other into o the way Python's dict.update does.
func (o *jsonObject) update(other *jsonObject) {
	for _, m := range other.members {
		o.set(m.key, m.val)
	}
}

// without returns a copy of o minus the given keys.
func (o *jsonObject) without(keys ...string) *jsonObject {
	skip := make(map[string]bool, len(keys))
	for _, k := range keys {
		skip[k] = true
	}
	out := newObject()
	for _, m := range o.members {
		if !skip[m.key] {
			out.set(m.key, m.val)
		}
	}
	return out
}

// encodeJSON returns the bytes of v as the given serializer would write them.
func encodeJSON(v jsonValue, mode encodeMode) []byte {
	if v == nil {
		return []byte("null")
	}
	return v.appendTo(make([]byte, 0, 256), mode)
}

func (jsonNull) appendTo(b []byte, _ encodeMode) []byte { return append(b, "null"...) }

func (v jsonBool) appendTo(b []byte, _ encodeMode) []byte { return strconv.AppendBool(b, bool(v)) }

func (v jsonString) appendTo(b []byte, _ encodeMode) []byte { return appendString(b, string(v)) }

func (v jsonInt) appendTo(b []byte, _ encodeMode) []byte { return append(b, v...) }

func (v jsonFloat) appendTo(b []byte, mode encodeMode) []byte {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// Pydantic writes non-finite floats as null, and the webhook body is
		// built from Pydantic's output, so both paths end up with null.
		return append(b, "null"...)
	}
	if mode == modeWebhook {
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

func (v jsonArray) appendTo(b []byte, mode encodeMode) []byte {
	b = append(b, '[')
	for i, e := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if e == nil {
			e = jsonNull{}
		}
		b = e.appendTo(b, mode)
	}
	return append(b, ']')
}

func (o *jsonObject) appendTo(b []byte, mode encodeMode) []byte {
	b = append(b, '{')
	for i, m := range o.members {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.key)
		b = append(b, ':')
		b = m.val.appendTo(b, mode)
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

// errJSONSyntax marks a body that is not valid JSON; the offset is kept for
// the 422 location, as FastAPI reports the character position.
type jsonSyntaxError struct {
	offset int64
	msg    string
}

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.offset, e.msg)
}

// parseJSON decodes data into a jsonValue, keeping key order (a repeated key
// keeps its first position and its last value, like Python's json.loads) and
// telling integers from floats by their literal, as Python does.
func parseJSON(data []byte) (jsonValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, syntaxError(dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &jsonSyntaxError{offset: dec.InputOffset(), msg: "Extra data"}
	}
	return v, nil
}

func syntaxError(dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &jsonSyntaxError{offset: se.Offset, msg: se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &jsonSyntaxError{offset: dec.InputOffset(), msg: "Expecting value"}
	}
	return &jsonSyntaxError{offset: dec.InputOffset(), msg: err.Error()}
}

func parseValue(dec *json.Decoder) (jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return jsonNull{}, nil
	case bool:
		return jsonBool(t), nil
	case string:
		return jsonString(t), nil
	case json.Number:
		return numberValue(string(t))
	case json.Delim:
		switch t {
		case '{':
			obj := newObject()
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
				obj.set(key, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		case '[':
			arr := jsonArray{}
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
func numberValue(lit string) (jsonValue, error) {
	if strings.ContainsAny(lit, ".eE") {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			var ne *strconv.NumError
			if !errors.As(err, &ne) || !errors.Is(ne.Err, strconv.ErrRange) {
				return nil, err
			}
		}
		return jsonFloat(f), nil
	}
	if lit == "-0" {
		return jsonInt("0"), nil
	}
	if _, err := strconv.ParseFloat(lit, 64); err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || !errors.Is(ne.Err, strconv.ErrRange) {
			return nil, fmt.Errorf("invalid number %q", lit)
		}
	}
	return jsonInt(lit), nil
}
