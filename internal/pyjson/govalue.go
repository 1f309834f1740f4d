package pyjson

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/skyvern-go/skyvern"
)

// maxValueDepth bounds the conversion of Go values, so a cyclic structure
// becomes an error rather than a stack overflow.
const maxValueDepth = 512

var (
	valueType       = reflect.TypeOf((*Value)(nil)).Elem()
	marshalerType   = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	skyvernTimeType = reflect.TypeOf(skyvern.Time{})
	jsonNumberType  = reflect.TypeOf(json.Number(""))
)

// ValueOf converts a Go value into a [Value].
//
// It follows encoding/json's rules (json tags, omitempty, sorted map keys,
// json.Marshaler, encoding.TextMarshaler, []byte as base64) with two
// differences that matter for byte-exact output: Go floats stay floats (so
// 29.0 is a whole-number float, which the webhook signer turns into 29 and a
// response keeps as 29.0), and struct fields keep their declaration order,
// which is how the server's wire structs encode key order. json.RawMessage is
// parsed with its key order and number literals intact, and a skyvern.Time
// is written in Skyvern's timestamp form (null when zero).
func ValueOf(v any) (Value, error) {
	if v == nil {
		return Null{}, nil
	}
	if jv, ok := v.(Value); ok {
		return jv, nil
	}
	return convertValue(reflect.ValueOf(v), 0)
}

func convertValue(v reflect.Value, depth int) (Value, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels (cyclic?)", maxValueDepth)
	}
	if !v.IsValid() {
		return Null{}, nil
	}
	t := v.Type()
	if t.Implements(valueType) {
		if (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil() {
			return Null{}, nil
		}
		jv, _ := v.Interface().(Value)
		return jv, nil
	}
	switch t {
	case skyvernTimeType:
		tm, _ := v.Interface().(skyvern.Time)
		if tm.IsZero() {
			return Null{}, nil
		}
		return String(tm.String()), nil
	case jsonNumberType:
		return numberValue(v.String())
	}
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return Null{}, nil
		}
		return convertValue(v.Elem(), depth+1)
	}
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return Null{}, nil
	}
	if jv, ok, err := convertMarshaler(v); ok {
		return jv, err
	}
	switch v.Kind() {
	case reflect.Pointer:
		return convertValue(v.Elem(), depth+1)
	case reflect.Bool:
		return Bool(v.Bool()), nil
	case reflect.String:
		return String(v.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return Int(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return Float(v.Float()), nil
	case reflect.Struct:
		obj := NewObject()
		if err := convertStruct(obj, v, depth); err != nil {
			return nil, err
		}
		return obj, nil
	case reflect.Map:
		return convertMap(v, depth)
	case reflect.Slice:
		if v.IsNil() {
			return Null{}, nil
		}
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(marshalerType) {
			return String(base64.StdEncoding.EncodeToString(v.Bytes())), nil
		}
		return convertList(v, depth)
	case reflect.Array:
		return convertList(v, depth)
	}
	return nil, fmt.Errorf("cannot encode a value of type %s as JSON", t)
}

// convertMarshaler handles types with their own JSON or text form. Unlike
// encoding/json it also uses pointer-receiver methods of values that are not
// addressable (by copying them), which only makes it more lenient.
func convertMarshaler(v reflect.Value) (Value, bool, error) {
	if t := v.Type(); !hasOwnForm(t) {
		if !hasOwnForm(reflect.PointerTo(t)) {
			return nil, false, nil
		}
		if v.CanAddr() {
			v = v.Addr()
		} else {
			cp := reflect.New(t)
			cp.Elem().Set(v)
			v = cp
		}
	}
	if m, ok := v.Interface().(json.Marshaler); ok {
		raw, err := m.MarshalJSON()
		if err != nil {
			return nil, true, err
		}
		jv, err := Parse(raw)
		return jv, true, err
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		text, err := m.MarshalText()
		if err != nil {
			return nil, true, err
		}
		return String(text), true, nil
	}
	return nil, false, nil
}

func hasOwnForm(t reflect.Type) bool {
	return t.Implements(marshalerType) || t.Implements(textMarshalType)
}

func convertStruct(obj *Object, v reflect.Value, depth int) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv, ft = fv.Elem(), ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := convertStruct(obj, fv, depth+1); err != nil {
					return err
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if hasOption(opts, "omitempty") && isEmptyValue(fv) {
			continue
		}
		jv, err := convertValue(fv, depth+1)
		if err != nil {
			return fmt.Errorf("field %s: %w", sf.Name, err)
		}
		obj.Set(name, jv)
	}
	return nil
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

func convertMap(v reflect.Value, depth int) (Value, error) {
	if v.IsNil() {
		return Null{}, nil
	}
	type entry struct {
		key string
		val reflect.Value
	}
	entries := make([]entry, 0, v.Len())
	iter := v.MapRange()
	for iter.Next() {
		k := iter.Key()
		var key string
		switch {
		case k.Kind() == reflect.String:
			key = k.String()
		case k.Type().Implements(textMarshalType):
			text, err := k.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return nil, err
			}
			key = string(text)
		case k.CanInt():
			key = strconv.FormatInt(k.Int(), 10)
		case k.CanUint():
			key = strconv.FormatUint(k.Uint(), 10)
		default:
			return nil, fmt.Errorf("cannot encode a map with %s keys as JSON", k.Type())
		}
		entries = append(entries, entry{key, iter.Value()})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	obj := NewObject()
	for _, e := range entries {
		jv, err := convertValue(e.val, depth+1)
		if err != nil {
			return nil, err
		}
		obj.Set(e.key, jv)
	}
	return obj, nil
}

func convertList(v reflect.Value, depth int) (Value, error) {
	arr := make(Array, v.Len())
	for i := range arr {
		jv, err := convertValue(v.Index(i), depth+1)
		if err != nil {
			return nil, err
		}
		arr[i] = jv
	}
	return arr, nil
}
