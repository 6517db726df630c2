package decl

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProblemKind classifies a Problem.
type ProblemKind int

// The problem kinds.
const (
	// UnknownKey: a key the declaration does not have.
	UnknownKey ProblemKind = iota + 1
	// WrongType: a value of the wrong kind (a string for an integer, a list for a mapping).
	WrongType
	// BadValue: a value of the right kind that does not parse or is out of bounds.
	BadValue
	// Missing: a required key that is absent, null or empty.
	Missing
)

// Problem is one thing wrong with a decoded value.
type Problem struct {
	// Path names the key: "agents[0].display" ("" for the whole value).
	Path string
	// Kind classifies it.
	Kind ProblemKind
	// Summary says it in a few words: "unknown key", "not an integer".
	Summary string
	// Detail says it in full, without the path: `did you mean "fps"?`,
	// `expected an integer, got a string "ten"`.
	Detail string
}

// Message is the problem on one line, without its path: the detail, led by the summary for
// an unknown or missing key (`unknown key; did you mean "fps"?`).
func (p Problem) Message() string {
	switch p.Kind {
	case UnknownKey, Missing:
		if strings.HasPrefix(p.Detail, "(") {
			return p.Summary + " " + p.Detail
		}
		return p.Summary + "; " + p.Detail
	}
	return p.Detail
}

// Options tune Decode.
type Options struct {
	// TextForms also accepts the forms an environment variable gives: numbers and booleans
	// as strings ("3", "true"), lists as one comma-separated string ("a, b").
	TextForms bool
}

// Decode decodes src, a tree of map[string]any (or map[any]any), []any, string, bool,
// numbers (int, int64, uint64, float64, json.Number) and nil, into dst, a pointer to a
// declared struct holding the defaults. Absent and null keys keep them; unknown keys are
// problems. Every problem is returned, in a stable order; dst holds what did decode.
func Decode(src any, dst any, opt Options) []Problem {
	d := &decoder{opt: opt}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("decl: Decode needs a non-nil pointer")
	}
	if src == nil {
		src = map[string]any{}
	}
	d.value("", src, rv.Elem(), Field{})
	return d.probs
}

// DecodeJSON is Decode on a JSON document; empty or null is an empty object.
func DecodeJSON(raw []byte, dst any, opt Options) []Problem {
	var src any
	if s := strings.TrimSpace(string(raw)); s != "" && s != "null" {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&src); err != nil || dec.More() {
			return []Problem{{Kind: WrongType, Summary: "not JSON", Detail: fmt.Sprintf("the config section is not valid JSON: %v", err)}}
		}
	}
	return Decode(src, dst, opt)
}

type decoder struct {
	opt   Options
	probs []Problem
}

func (d *decoder) add(path string, kind ProblemKind, summary, format string, args ...any) {
	d.probs = append(d.probs, Problem{Path: path, Kind: kind, Summary: summary, Detail: fmt.Sprintf(format, args...)})
}

// wrongType reports src where want (a phrase such as "an integer") belongs.
func (d *decoder) wrongType(path string, src any, want, summary string, f Field) {
	d.add(path, WrongType, summary, "expected %s, got %s", want, Describe(src, f.Secret))
}

// value decodes src into v; f is the declaration of the key (zero for list items and the
// root, whose bounds and options are the enclosing key's).
func (d *decoder) value(path string, src any, v reflect.Value, f Field) {
	if src == nil {
		return
	}
	t := v.Type()
	switch {
	case t == durationType || t == declDurationTyp:
		d.duration(path, src, v, f)
		return
	case t == byteSizeType || (f.size && isInt(t.Kind())):
		d.size(path, src, v, f)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		nv := reflect.New(t.Elem())
		if !v.IsNil() {
			nv.Elem().Set(v.Elem())
		}
		n := len(d.probs)
		d.value(path, src, nv.Elem(), f)
		if len(d.probs) == n {
			v.Set(nv)
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf(src))
	case reflect.String:
		s, ok := src.(string)
		if !ok {
			d.wrongType(path, src, "a string", "not a string", f)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := src.(bool)
		if s, isStr := src.(string); isStr && d.opt.TextForms {
			var err error
			b, err = strconv.ParseBool(strings.TrimSpace(s))
			ok = err == nil
		}
		if !ok {
			d.wrongType(path, src, "true or false", "not a boolean", f)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.integer(path, src, v, f)
	case reflect.Float32, reflect.Float64:
		x, ok := toFloat(src)
		if s, isStr := src.(string); isStr && d.opt.TextForms {
			var err error
			x, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
			ok = err == nil
		}
		if !ok {
			d.wrongType(path, src, "a number", "not a number", f)
			return
		}
		v.SetFloat(x)
	case reflect.Slice:
		d.list(path, src, v, f)
	case reflect.Map:
		d.mapping(path, src, v)
	case reflect.Struct:
		d.object(path, src, v)
	default:
		panic(fmt.Sprintf("decl: %s: cannot decode into %s", path, t))
	}
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// toInt returns src as an integer when it is one.
func toInt(src any) (int64, bool) {
	switch n := src.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

func toFloat(src any) (float64, bool) {
	switch n := src.(type) {
	case float64:
		return n, true
	case json.Number:
		x, err := n.Float64()
		return x, err == nil
	}
	if i, ok := toInt(src); ok {
		return float64(i), true
	}
	return 0, false
}

func (d *decoder) integer(path string, src any, v reflect.Value, f Field) {
	n, ok := toInt(src)
	if s, isStr := src.(string); isStr && d.opt.TextForms {
		var err error
		n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		ok = err == nil
	}
	if !ok {
		d.wrongType(path, src, "an integer", "not an integer", f)
		return
	}
	if v.CanInt() && v.OverflowInt(n) || v.CanUint() && (n < 0 || v.OverflowUint(uint64(n))) {
		d.add(path, BadValue, "out of range", "%d does not fit", n)
		return
	}
	if !d.inBounds(path, float64(n), f, func(s string) (float64, error) {
		x, err := strconv.ParseInt(s, 10, 64)
		return float64(x), err
	}, func(x float64) string { return strconv.FormatInt(int64(x), 10) }, "out of range") {
		return
	}
	if v.CanInt() {
		v.SetInt(n)
	} else {
		v.SetUint(uint64(n))
	}
}

func (d *decoder) duration(path string, src any, v reflect.Value, f Field) {
	const want = `a duration string such as "10m"`
	var dur time.Duration
	switch s := src.(type) {
	case string:
		x, err := ParseDuration(s)
		if err != nil {
			d.add(path, BadValue, "not a duration", "%v", err)
			return
		}
		dur = x
	default:
		n, ok := toInt(src)
		switch {
		case !ok:
			d.wrongType(path, src, want, "not a duration", f)
			return
		case n != 0:
			d.add(path, BadValue, "not a duration", `%d is not a duration: write it with a unit, e.g. "%ds" or "10m"`, n, n)
			return
		}
	}
	if !d.inBounds(path, float64(dur), f, func(s string) (float64, error) {
		x, err := time.ParseDuration(s)
		return float64(x), err
	}, func(x float64) string { return time.Duration(x).String() }, "duration out of range") {
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) size(path string, src any, v reflect.Value, f Field) {
	var text string
	switch s := src.(type) {
	case string:
		text = s
	case float64:
		text = strconv.FormatFloat(s, 'f', -1, 64)
	default:
		n, ok := toInt(src)
		if !ok {
			if num, isNum := src.(json.Number); isNum {
				text = num.String()
				break
			}
			d.wrongType(path, src, `a byte size such as "512MiB"`, "not a size", f)
			return
		}
		text = strconv.FormatInt(n, 10)
	}
	b, err := ParseByteSize(text)
	if err != nil {
		d.add(path, BadValue, "not a size", "%v", err)
		return
	}
	if !d.inBounds(path, float64(b), f, func(s string) (float64, error) {
		x, err := ParseByteSize(s)
		return float64(x), err
	}, func(x float64) string { return ByteSize(x).String() }, "size out of range") {
		return
	}
	v.SetInt(int64(b))
}

// inBounds checks x against the key's min and max tags (parsed with parse, written with
// format), reporting it out of bounds with summary.
func (d *decoder) inBounds(path string, x float64, f Field, parse func(string) (float64, error),
	format func(float64) string, summary string) bool {
	bound := func(s string) (float64, bool) {
		if s == "" {
			return 0, false
		}
		b, err := parse(s)
		if err != nil {
			panic(fmt.Sprintf("decl: %s: bad bound %q: %v", f.Path, s, err))
		}
		return b, true
	}
	lo, hasLo := bound(f.Min)
	hi, hasHi := bound(f.Max)
	switch {
	case hasLo && hasHi && (x < lo || x > hi):
		d.add(path, BadValue, summary, "%s is outside %s to %s", format(x), f.Min, f.Max)
	case hasLo && x < lo:
		d.add(path, BadValue, summary, "%s must be at least %s", format(x), f.Min)
	case hasHi && x > hi:
		d.add(path, BadValue, summary, "%s must be at most %s", format(x), f.Max)
	default:
		return true
	}
	return false
}

func (d *decoder) list(path string, src any, v reflect.Value, f Field) {
	items, ok := src.([]any)
	if s, isStr := src.(string); isStr && d.opt.TextForms {
		items, ok = nil, true
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
	}
	if !ok {
		d.wrongType(path, src, "a list", "not a list", f)
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(items))
	item := Field{size: f.size, Secret: f.Secret, Min: f.Min, Max: f.Max, Path: f.Path}
	for i, it := range items {
		ev := reflect.New(v.Type().Elem()).Elem()
		p := fmt.Sprintf("%s[%d]", path, i)
		if it == nil {
			d.wrongType(p, it, itemWant(ev.Type()), "null item", item)
			continue
		}
		d.value(p, it, ev, item)
		out = reflect.Append(out, ev)
	}
	v.Set(out)
}

// itemWant names what a list item of type t must be.
func itemWant(t reflect.Type) string {
	switch kindOf(t, false) {
	case KindString:
		return "a string"
	case KindMap:
		return "a mapping"
	case KindInt:
		return "an integer"
	}
	return "a value"
}

// stringKeys returns src as a mapping with string keys (keys of other types written as
// text), or ok=false when it is not a mapping.
func stringKeys(src any) (map[string]any, bool) {
	switch m := src.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[fmt.Sprint(k)] = x
		}
		return out, true
	}
	return nil, false
}

func (d *decoder) mapping(path string, src any, v reflect.Value) {
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("decl: %s: map keys must be strings", path))
	}
	m, ok := stringKeys(src)
	if !ok {
		d.wrongType(path, src, "a mapping", "not an object", Field{})
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		ev := reflect.New(v.Type().Elem()).Elem()
		if m[k] != nil {
			d.value(joinPath(path, k), m[k], ev, Field{})
		}
		out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
	}
	v.Set(out)
}

func (d *decoder) object(path string, src any, v reflect.Value) {
	m, ok := stringKeys(src)
	if !ok {
		d.wrongType(path, src, "a mapping", "not an object", Field{})
		return
	}
	fields := fieldsOf(v.Type(), reflect.Value{}, "")
	byName := make(map[string]int, len(fields))
	names := make([]string, len(fields))
	for i, f := range fields {
		byName[f.Name] = i
		names[i] = f.Name
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		i, known := byName[k]
		if !known {
			d.add(joinPath(path, k), UnknownKey, "unknown key", "%s", Hint(k, names))
			continue
		}
		f := fields[i]
		fv := v.FieldByIndex(f.index)
		d.value(joinPath(path, k), m[k], fv, f)
	}
	for _, f := range fields {
		if !f.Required {
			continue
		}
		if x, ok := m[f.Name]; !ok || empty(x) {
			detail := "required"
			if f.Description != "" {
				detail += ": " + f.Description
			}
			d.add(joinPath(path, f.Name), Missing, "missing "+f.Name, "%s", detail)
		}
	}
}

// empty reports a value that does not set a required key: null, "", an empty list or mapping.
func empty(x any) bool {
	switch t := x.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

// Describe names a value's type for people, quoting a scalar unless secret:
// `a string "ten"`, `an integer "5"`, "a mapping", "null".
func Describe(src any, secret bool) string {
	var word, text string
	switch x := src.(type) {
	case nil:
		return "null"
	case string:
		word, text = "a string", x
	case bool:
		word, text = "a boolean", strconv.FormatBool(x)
	case float64:
		word, text = "a number", strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		word, text = "a number", x.String()
		if _, ok := toInt(x); ok {
			word = "an integer"
		}
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	default:
		if n, ok := toInt(src); ok {
			word, text = "an integer", strconv.FormatInt(n, 10)
		} else {
			return fmt.Sprintf("%T", src)
		}
	}
	if secret {
		return word
	}
	return word + " " + strconv.Quote(text)
}

// Hint suggests the closest of names to key (`did you mean "fps"?`), or lists them all
// ("(valid keys: a, b)") when none is close.
func Hint(key string, names []string) string {
	if best := Closest(key, names); best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "(valid keys: " + strings.Join(names, ", ") + ")"
}

// Closest returns the name nearest to s in edit distance (case-insensitive), or "" when
// none is within two edits.
func Closest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestD && d < len(s) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions, deletions,
// substitutions and transpositions of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
