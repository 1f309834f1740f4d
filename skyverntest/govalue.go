package skyverntest

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
	jsonValueType   = reflect.TypeOf((*jsonValue)(nil)).Elem()
	marshalerType   = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	skyvernTimeType = reflect.TypeOf(skyvern.Time{})
	jsonNumberType  = reflect.TypeOf(json.Number(""))
)

// toJSONValue converts a Go value into a jsonValue.
//
// It follows encoding/json's rules (json tags, omitempty, sorted map keys,
// json.Marshaler, encoding.TextMarshaler, []byte as base64) with two
// differences that matter for byte-exact output: Go floats stay floats (so
// 29.0 is a whole-number float, which the webhook signer turns into 29 and a
// response keeps as 29.0), and struct fields keep their declaration order,
// which is how the server's wire structs encode key order. json.RawMessage is
// parsed with its key order and number literals intact.
func toJSONValue(v any) (jsonValue, error) {
	if v == nil {
		return jsonNull{}, nil
	}
	if jv, ok := v.(jsonValue); ok {
		return jv, nil
	}
	return convertValue(reflect.ValueOf(v), 0)
}

// mustJSONValue converts one of the server's own wire structs, which are
// built so that conversion cannot fail.
func mustJSONValue(v any) jsonValue {
	jv, err := toJSONValue(v)
	if err != nil {
		panic(fmt.Sprintf("skyverntest: internal wire struct %T: %v", v, err))
	}
	return jv
}

// mustObject is mustJSONValue for structs, which always become objects.
func mustObject(v any) *jsonObject {
	obj, ok := mustJSONValue(v).(*jsonObject)
	if !ok {
		panic(fmt.Sprintf("skyverntest: internal wire struct %T is not an object", v))
	}
	return obj
}

func convertValue(v reflect.Value, depth int) (jsonValue, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels (cyclic?)", maxValueDepth)
	}
	if !v.IsValid() {
		return jsonNull{}, nil
	}
	t := v.Type()
	if t.Implements(jsonValueType) {
		if (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil() {
			return jsonNull{}, nil
		}
		jv, _ := v.Interface().(jsonValue)
		return jv, nil
	}
	switch t {
	case skyvernTimeType:
		tm, _ := v.Interface().(skyvern.Time)
		if tm.IsZero() {
			return jsonNull{}, nil
		}
		return jsonString(tm.String()), nil
	case jsonNumberType:
		return numberValue(v.String())
	}
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return jsonNull{}, nil
		}
		return convertValue(v.Elem(), depth+1)
	}
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return jsonNull{}, nil
	}
	if jv, ok, err := convertMarshaler(v); ok {
		return jv, err
	}
	switch v.Kind() {
	case reflect.Pointer:
		return convertValue(v.Elem(), depth+1)
	case reflect.Bool:
		return jsonBool(v.Bool()), nil
	case reflect.String:
		return jsonString(v.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return jsonInt(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return jsonInt(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return jsonFloat(v.Float()), nil
	case reflect.Struct:
		obj := newObject()
		if err := convertStruct(obj, v, depth); err != nil {
			return nil, err
		}
		return obj, nil
	case reflect.Map:
		return convertMap(v, depth)
	case reflect.Slice:
		if v.IsNil() {
			return jsonNull{}, nil
		}
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(marshalerType) {
			return jsonString(base64.StdEncoding.EncodeToString(v.Bytes())), nil
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
func convertMarshaler(v reflect.Value) (jsonValue, bool, error) {
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
		jv, err := parseJSON(raw)
		return jv, true, err
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		text, err := m.MarshalText()
		if err != nil {
			return nil, true, err
		}
		return jsonString(text), true, nil
	}
	return nil, false, nil
}

func hasOwnForm(t reflect.Type) bool {
	return t.Implements(marshalerType) || t.Implements(textMarshalType)
}

func convertStruct(obj *jsonObject, v reflect.Value, depth int) error {
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
		obj.set(name, jv)
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

func convertMap(v reflect.Value, depth int) (jsonValue, error) {
	if v.IsNil() {
		return jsonNull{}, nil
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
	obj := newObject()
	for _, e := range entries {
		jv, err := convertValue(e.val, depth+1)
		if err != nil {
			return nil, err
		}
		obj.set(e.key, jv)
	}
	return obj, nil
}

func convertList(v reflect.Value, depth int) (jsonValue, error) {
	arr := make(jsonArray, v.Len())
	for i := range arr {
		jv, err := convertValue(v.Index(i), depth+1)
		if err != nil {
			return nil, err
		}
		arr[i] = jv
	}
	return arr, nil
}
