package skyverntest

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// validationError is one item of a FastAPI 422 list, in Pydantic's key
// order: type, loc, msg, input, ctx.
type validationError struct {
	Type  string
	Loc   []any
	Msg   string
	Input pyjson.Value
	Ctx   *pyjson.Object
}

func (e validationError) value() pyjson.Value {
	obj := pyjson.NewObject()
	obj.Set("type", pyjson.String(e.Type))
	loc := make(pyjson.Array, len(e.Loc))
	for i, l := range e.Loc {
		switch l := l.(type) {
		case int:
			loc[i] = pyjson.Int(strconv.Itoa(l))
		case int64:
			loc[i] = pyjson.Int(strconv.FormatInt(l, 10))
		default:
			loc[i] = pyjson.String(fmt.Sprint(l))
		}
	}
	obj.Set("loc", loc)
	obj.Set("msg", pyjson.String(e.Msg))
	obj.Set("input", e.Input)
	if e.Ctx != nil {
		obj.Set("ctx", e.Ctx)
	}
	return obj
}

func writeValidation(w http.ResponseWriter, errs []validationError) {
	list := make(pyjson.Array, len(errs))
	for i, e := range errs {
		list[i] = e.value()
	}
	obj := pyjson.NewObject()
	obj.Set("detail", list)
	writeJSON(w, http.StatusUnprocessableEntity, obj)
}

// writeJSONDecodeError writes FastAPI's answer to a body that is not JSON.
func writeJSONDecodeError(w http.ResponseWriter, err error) {
	var offset int64
	msg := "Expecting value"
	var se *pyjson.SyntaxError
	if errors.As(err, &se) {
		offset = se.Offset
		if se.Msg == "Extra data" {
			msg = se.Msg
		}
	}
	ctx := pyjson.NewObject()
	ctx.Set("error", pyjson.String(msg))
	writeValidation(w, []validationError{{
		Type: "json_invalid", Loc: []any{"body", offset}, Msg: "JSON decode error",
		Input: pyjson.NewObject(), Ctx: ctx,
	}})
}

// missingBody is the 422 for a required body that was not sent.
func missingBody() []validationError {
	return []validationError{{Type: "missing", Loc: []any{"body"}, Msg: "Field required", Input: pyjson.Null{}}}
}

// fields reads a request object field by field the way Pydantic validates a
// model: every problem becomes a 422 item at its location, and validation
// goes on to the next field. A URL validator raises a 400 instead, which
// stops validation at once (Skyvern raises SkyvernHTTPException from inside
// its validators).
type fields struct {
	obj   *pyjson.Object
	loc   []any
	errs  []validationError
	fatal *httpError
}

func newFields(obj *pyjson.Object, loc ...any) *fields { return &fields{obj: obj, loc: loc} }

func (f *fields) at(key string) []any {
	loc := make([]any, 0, len(f.loc)+1)
	return append(append(loc, f.loc...), key)
}

func (f *fields) fail(key, typ, msg string, input pyjson.Value) {
	f.errs = append(f.errs, validationError{Type: typ, Loc: f.at(key), Msg: msg, Input: input})
}

// lookup returns the value of key; present is false when the key is absent.
// A JSON null counts as present.
func (f *fields) lookup(key string) (pyjson.Value, bool) {
	if f.fatal != nil {
		return nil, false
	}
	return f.obj.Get(key)
}

func isNull(v pyjson.Value) bool {
	_, ok := v.(pyjson.Null)
	return v == nil || ok
}

// requiredString reads a required, non-nullable string.
func (f *fields) requiredString(key string) string {
	v, ok := f.lookup(key)
	if !ok {
		if f.fatal == nil {
			f.errs = append(f.errs, validationError{Type: "missing", Loc: f.at(key), Msg: "Field required", Input: f.obj})
		}
		return ""
	}
	s, isStr := v.(pyjson.String)
	if !isStr {
		f.fail(key, "string_type", "Input should be a valid string", v)
		return ""
	}
	return string(s)
}

// str reads an optional, nullable string.
func (f *fields) str(key string) *string {
	v, ok := f.lookup(key)
	if !ok || isNull(v) {
		return nil
	}
	s, isStr := v.(pyjson.String)
	if !isStr {
		f.fail(key, "string_type", "Input should be a valid string", v)
		return nil
	}
	out := string(s)
	return &out
}

// enum reads an optional string that must be one of allowed.
func (f *fields) enum(key string, allowed []string) *string {
	v, ok := f.lookup(key)
	if !ok || isNull(v) {
		return nil
	}
	if s, isStr := v.(pyjson.String); isStr {
		for _, a := range allowed {
			if string(s) == a {
				out := a
				return &out
			}
		}
	}
	f.errs = append(f.errs, enumError(f.at(key), v, allowed))
	return nil
}

func enumError(loc []any, input pyjson.Value, allowed []string) validationError {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	expected := strings.Join(quoted, ", ")
	if n := len(quoted); n > 1 {
		expected = strings.Join(quoted[:n-1], ", ") + " or " + quoted[n-1]
	}
	ctx := pyjson.NewObject()
	ctx.Set("expected", pyjson.String(expected))
	return validationError{Type: "enum", Loc: loc, Msg: "Input should be " + expected, Input: input, Ctx: ctx}
}

// integer reads an optional, nullable int in Pydantic's lax mode: integers,
// whole floats and numeric strings pass.
func (f *fields) integer(key string) *int {
	v, ok := f.lookup(key)
	if !ok || isNull(v) {
		return nil
	}
	n, typ, msg := laxInt(v)
	if typ != "" {
		f.fail(key, typ, msg, v)
		return nil
	}
	return &n
}

func laxInt(v pyjson.Value) (int, string, string) {
	switch v := v.(type) {
	case pyjson.Int:
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return 0, "int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size"
		}
		return n, "", ""
	case pyjson.Float:
		f := float64(v)
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, "int_from_float", "Input should be a valid integer, got a number with a fractional part"
		}
		if math.Abs(f) > 1<<62 {
			return 0, "int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size"
		}
		return int(f), "", ""
	case pyjson.String:
		n, err := strconv.Atoi(strings.TrimSpace(string(v)))
		if err != nil {
			return 0, "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
		}
		return n, "", ""
	}
	return 0, "int_type", "Input should be a valid integer"
}

// boundedInt reads an optional int and checks ge <= n <= le.
func (f *fields) boundedInt(key string, ge, le int) *int {
	v, _ := f.lookup(key)
	if _, isBool := v.(pyjson.Bool); isBool {
		f.fail(key, "int_type", "Input should be a valid integer", v)
		return nil
	}
	n := f.integer(key)
	if n == nil {
		return nil
	}
	if *n < ge {
		f.errs = append(f.errs, boundError(f.at(key), v, "greater_than_equal", "greater than or equal to", "ge", ge))
		return nil
	}
	if *n > le {
		f.errs = append(f.errs, boundError(f.at(key), v, "less_than_equal", "less than or equal to", "le", le))
		return nil
	}
	return n
}

func boundError(loc []any, input pyjson.Value, typ, words, ctxKey string, limit int) validationError {
	ctx := pyjson.NewObject()
	ctx.Set(ctxKey, pyjson.Int(strconv.Itoa(limit)))
	return validationError{Type: typ, Loc: loc, Msg: fmt.Sprintf("Input should be %s %d", words, limit), Input: input, Ctx: ctx}
}

// boolean reads an optional bool in Pydantic's lax mode.
func (f *fields) boolean(key string) *bool {
	v, ok := f.lookup(key)
	if !ok || isNull(v) {
		return nil
	}
	b, typ, msg := laxBool(v)
	if typ != "" {
		f.fail(key, typ, msg, v)
		return nil
	}
	return &b
}

func laxBool(v pyjson.Value) (bool, string, string) {
	const parsing = "Input should be a valid boolean, unable to interpret input"
	switch v := v.(type) {
	case pyjson.Bool:
		return bool(v), "", ""
	case pyjson.Int:
		switch v {
		case "0":
			return false, "", ""
		case "1":
			return true, "", ""
		}
		return false, "bool_parsing", parsing
	case pyjson.Float:
		switch float64(v) {
		case 0:
			return false, "", ""
		case 1:
			return true, "", ""
		}
		return false, "bool_parsing", parsing
	case pyjson.String:
		return parseBoolString(string(v))
	}
	return false, "bool_type", "Input should be a valid boolean"
}

func parseBoolString(s string) (bool, string, string) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0", "off", "f", "false", "n", "no":
		return false, "", ""
	case "1", "on", "t", "true", "y", "yes":
		return true, "", ""
	}
	return false, "bool_parsing", "Input should be a valid boolean, unable to interpret input"
}

// flag reads a bool with a default.
func (f *fields) flag(key string, def bool) bool {
	if b := f.boolean(key); b != nil {
		return *b
	}
	return def
}

// object reads an optional, nullable JSON object.
func (f *fields) object(key string) *pyjson.Object {
	v, ok := f.lookup(key)
	if !ok || isNull(v) {
		return nil
	}
	obj, isObj := v.(*pyjson.Object)
	if !isObj {
		f.fail(key, "dict_type", "Input should be a valid dictionary", v)
		return nil
	}
	return obj
}

// stringMap reads an optional, nullable map of strings.
func (f *fields) stringMap(key string) *pyjson.Object {
	obj := f.object(key)
	if obj == nil {
		return nil
	}
	ok := true
	for _, m := range obj.Members() {
		if _, isStr := m.Value.(pyjson.String); !isStr {
			f.errs = append(f.errs, validationError{
				Type: "string_type", Loc: append(f.at(key), m.Key), Msg: "Input should be a valid string", Input: m.Value,
			})
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return obj
}

// anyValue reads a field of any JSON type; absent and null both give nil.
func (f *fields) anyValue(key string) pyjson.Value {
	v, ok := f.lookup(key)
	if !ok || isNull(v) {
		return nil
	}
	return v
}

// url reads an optional URL field through Skyvern's validate_url, which
// answers 400 (not 422) for a bad URL.
func (f *fields) url(key string) *string {
	s := f.str(key)
	if s == nil || f.fatal != nil {
		return nil
	}
	norm, herr := normalizeURL(*s)
	if herr != nil {
		f.fatal = herr
		return nil
	}
	return &norm
}

// webhookURL is url plus Skyvern's refusal of AWS load balancer hostnames.
func (f *fields) webhookURL(key string) *string {
	u := f.url(key)
	if u == nil {
		return nil
	}
	if parsed, err := url.Parse(*u); err == nil && strings.HasSuffix(parsed.Hostname(), ".elb.amazonaws.com") {
		f.fatal = &httpError{http.StatusBadRequest, "Webhook URL must use a stable custom hostname instead of an AWS load balancer DNS name."}
		return nil
	}
	return u
}

// normalizeURL applies Skyvern's validate_url: https:// is assumed when the
// scheme is missing, only http(s) with a host and at most 2083 characters
// pass, and the result is what Pydantic's HttpUrl prints (lower-case scheme
// and host, default port dropped, "/" for an empty path).
func normalizeURL(raw string) (string, *httpError) {
	invalid := &httpError{http.StatusBadRequest, "Invalid URL: " + raw +
		". Skyvern supports HTTP and HTTPS urls with max 2083 character length."}
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > 2083 {
		return "", invalid
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return "", invalid
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", invalid
	}
	host := strings.ToLower(u.Hostname())
	if strings.HasPrefix(host, "www.www.") {
		host = strings.TrimPrefix(host, "www.")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	var b strings.Builder
	b.WriteString(scheme + "://")
	if u.User != nil {
		b.WriteString(u.User.String() + "@")
	}
	b.WriteString(host)
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?" + u.RawQuery)
	}
	if u.Fragment != "" {
		b.WriteString("#" + u.EscapedFragment())
	}
	return b.String(), nil
}

// requireObject checks that the body is a JSON object, writing the 422 if
// it is not.
func requireObject(w http.ResponseWriter, body pyjson.Value) (*pyjson.Object, bool) {
	if body == nil {
		writeValidation(w, missingBody())
		return nil, false
	}
	obj, ok := body.(*pyjson.Object)
	if !ok {
		writeValidation(w, []validationError{{
			Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: body,
		}})
		return nil, false
	}
	return obj, true
}

// proxyLocations lists the preset names of ProxyLocation.
func proxyLocations() []string {
	return []string{
		"RESIDENTIAL", "US-CA", "US-NY", "US-TX", "US-FL", "US-WA",
		"RESIDENTIAL_ES", "RESIDENTIAL_IE", "RESIDENTIAL_GB", "RESIDENTIAL_IN", "RESIDENTIAL_JP", "RESIDENTIAL_FR",
		"RESIDENTIAL_DE", "RESIDENTIAL_NZ", "RESIDENTIAL_ZA", "RESIDENTIAL_AR", "RESIDENTIAL_AU", "RESIDENTIAL_BR",
		"RESIDENTIAL_TR", "RESIDENTIAL_CA", "RESIDENTIAL_MX", "RESIDENTIAL_IT", "RESIDENTIAL_NL", "RESIDENTIAL_PH",
		"RESIDENTIAL_KR", "RESIDENTIAL_SA", "RESIDENTIAL_ISP", "NONE",
	}
}

// geoCountries lists the countries a GeoTarget may name.
const geoCountries = "US AR AU BR CA DE ES FR GB IE IN IT JP MX NL NZ PH KR SA TR ZA"

// proxy reads a proxy_location: a preset name, a GeoTarget (an object with
// "country", normalized the way Skyvern does), any other object (a custom
// proxy), or null. def is used when the key is absent.
func (f *fields) proxy(key string, def pyjson.Value) pyjson.Value {
	v, ok := f.lookup(key)
	if !ok {
		if f.fatal != nil {
			return nil
		}
		return def
	}
	switch v := v.(type) {
	case pyjson.Null:
		return nil
	case pyjson.String:
		for _, p := range proxyLocations() {
			if string(v) == p {
				return v
			}
		}
		f.errs = append(f.errs, enumError(f.at(key), v, proxyLocations()))
		return nil
	case *pyjson.Object:
		if _, isGeo := v.Get("country"); !isGeo {
			return v
		}
		return f.geoTarget(key, v)
	}
	f.fail(key, "dict_type", "Input should be a valid dictionary", v)
	return nil
}

func (f *fields) geoTarget(key string, obj *pyjson.Object) pyjson.Value {
	g := newFields(obj, append(f.at(key), "GeoTarget")...)
	country := strings.ToUpper(strings.TrimSpace(g.requiredString("country")))
	subdivision := g.str("subdivision")
	city := g.str("city")
	if len(g.errs) == 0 && (len(country) != 2 || !strings.Contains(geoCountries, country)) {
		ctx := pyjson.NewObject()
		msg := "Unsupported country: " + country
		ctx.Set("error", pyjson.String(msg))
		g.errs = append(g.errs, validationError{Type: "value_error", Loc: g.at("country"), Msg: "Value error, " + msg,
			Input: pyjson.String(country), Ctx: ctx})
	}
	if len(g.errs) > 0 {
		f.errs = append(f.errs, g.errs...)
		return nil
	}
	out := pyjson.NewObject()
	out.Set("country", pyjson.String(country))
	if subdivision != nil {
		sub := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(*subdivision)), country+"-")
		out.Set("subdivision", pyjson.String(sub))
	} else {
		out.Set("subdivision", pyjson.Null{})
	}
	if city != nil {
		out.Set("city", pyjson.String(*city))
	} else {
		out.Set("city", pyjson.Null{})
	}
	return out
}
