// Package decl derives a configuration's handling from one declaration: a Go struct whose
// fields carry tags. From it come strict decoding of a generic value tree (what JSON or YAML
// decode to) with the path of every problem ("agents[0].display: unknown key; did you mean
// \"displays\"?"), the list of keys with their types, defaults and descriptions (a schema),
// and the parsing of a key's value from text (environment overrides).
//
// The tags of a field:
//
//	cfg:"name[,required][,secret][,size]"  the key; "-" or no tag: not a key
//	desc:"..."                             what the key is for (the schema's description)
//	default:"..."                          the default as text, where the default value
//	                                       (see Fields) does not say it, e.g. "the first of keys"
//	min:"..." max:"..."                    bounds of a number, duration or size, as written
//
// required: absent, null or empty is a problem. secret: the value is never quoted in
// messages, and an environment override holds the secret itself, so the key becomes the
// reference {env: NAME}. size: an integer field written as a byte size ("4MiB").
//
// An embedded struct field without a cfg tag declares its keys as the outer struct's (one
// declaration shared by several sections).
//
// Types: string, bool, ints, floats, time.Duration and Duration (strings such as "10m"),
// ByteSize, slices, maps with string keys, nested structs, pointers to these, and any (taken
// as it is).
package decl

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Tag names.
const (
	TagKey     = "cfg"
	TagDesc    = "desc"
	TagDefault = "default"
	TagMin     = "min"
	TagMax     = "max"
)

// Kind is a key's type as the schema names it.
type Kind string

// The kinds.
const (
	KindString   Kind = "string"
	KindInt      Kind = "int"
	KindNumber   Kind = "number"
	KindBool     Kind = "bool"
	KindDuration Kind = "duration"
	KindSize     Kind = "size"
	KindList     Kind = "list"
	KindMap      Kind = "map"
	KindAny      Kind = "any"
)

// Field is one declared key.
type Field struct {
	// Name is the key.
	Name string
	// Path is the key's path from the root, with "[]" for list items: "engine.fps",
	// "signing_keys[].key".
	Path string
	// Kind is its type.
	Kind Kind
	// Description, Required, Secret and the bounds are the tags'.
	Description      string
	Required, Secret bool
	Min, Max         string
	// Default is the default as text: the tag's, else the default value's ("" when zero).
	Default string
	// Fields are the keys of a nested struct, or of the struct items of a list or map.
	Fields []Field

	index []int
	size  bool
	items bool // Fields are those of a list's or map's items
}

// Fields lists the keys declared by v, a struct or a pointer to one, in declaration order;
// v's values are the defaults.
func Fields(v any) []Field {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	return fieldsOf(rv.Type(), rv, "")
}

func fieldsOf(t reflect.Type, v reflect.Value, prefix string) []Field {
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if inline(sf) {
			// An embedded struct without a tag: its keys are the outer struct's.
			var ev reflect.Value
			if v.IsValid() {
				ev = v.Field(i)
			}
			for _, f := range fieldsOf(sf.Type, ev, prefix) {
				f.index = append(append([]int(nil), sf.Index...), f.index...)
				out = append(out, f)
			}
			continue
		}
		f, ok := parseField(sf)
		if !ok {
			continue
		}
		f.Path = joinPath(prefix, f.Name)
		f.index = sf.Index
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		if f.Default == "" && fv.IsValid() {
			f.Default = formatDefault(fv, f.size)
		}
		et := sf.Type
		for et.Kind() == reflect.Pointer {
			et = et.Elem()
		}
		switch {
		case et.Kind() == reflect.Struct && !isSpecial(et):
			f.Fields = fieldsOf(et, reflect.Value{}, f.Path)
		case (et.Kind() == reflect.Slice || et.Kind() == reflect.Map) && et.Elem().Kind() == reflect.Struct && !isSpecial(et.Elem()):
			f.Fields, f.items = fieldsOf(et.Elem(), reflect.Value{}, f.Path+"[]"), true
		}
		out = append(out, f)
	}
	return out
}

// inline reports an embedded struct field without a cfg tag, whose keys are promoted.
func inline(sf reflect.StructField) bool {
	_, tagged := sf.Tag.Lookup(TagKey)
	return sf.Anonymous && !tagged && sf.Type.Kind() == reflect.Struct && sf.IsExported() && !isSpecial(sf.Type)
}

// parseField reads a struct field's tags; ok is false for fields that are not keys.
func parseField(sf reflect.StructField) (Field, bool) {
	tag, ok := sf.Tag.Lookup(TagKey)
	if !ok || tag == "-" || !sf.IsExported() {
		return Field{}, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	f := Field{Name: name, Description: sf.Tag.Get(TagDesc), Default: sf.Tag.Get(TagDefault),
		Min: sf.Tag.Get(TagMin), Max: sf.Tag.Get(TagMax)}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "required":
			f.Required = true
		case "secret":
			f.Secret = true
		case "size":
			f.size = true
		case "":
		default:
			panic(fmt.Sprintf("decl: field %s: unknown option %q in tag %s:%q", sf.Name, o, TagKey, tag))
		}
	}
	f.Kind = kindOf(sf.Type, f.size)
	return f, true
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	declDurationTyp = reflect.TypeOf(Duration(0))
	byteSizeType    = reflect.TypeOf(ByteSize(0))
)

// isSpecial reports types decoded from a scalar although their kind says otherwise.
func isSpecial(t reflect.Type) bool {
	return t == durationType || t == declDurationTyp || t == byteSizeType
}

func kindOf(t reflect.Type, size bool) Kind {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType || t == declDurationTyp:
		return KindDuration
	case t == byteSizeType || size:
		return KindSize
	}
	switch t.Kind() {
	case reflect.String:
		return KindString
	case reflect.Bool:
		return KindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return KindInt
	case reflect.Float32, reflect.Float64:
		return KindNumber
	case reflect.Slice, reflect.Array:
		return KindList
	case reflect.Map, reflect.Struct:
		return KindMap
	}
	return KindAny
}

// formatDefault writes a default value as text; empty strings, lists and maps are "".
func formatDefault(v reflect.Value, size bool) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == durationType || v.Type() == declDurationTyp:
		return time.Duration(v.Int()).String()
	case v.Type() == byteSizeType || size:
		return ByteSize(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		if v.Len() == 0 {
			return ""
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatDefault(v.Index(i), size)
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// Leaves returns every key under fields that holds a value rather than further keys: every
// field but nested structs (whose own keys are listed instead) and lists or maps of structs
// (which have no single value).
func Leaves(fields []Field) []Field {
	var out []Field
	for _, f := range fields {
		switch {
		case f.items:
		case len(f.Fields) > 0:
			out = append(out, Leaves(f.Fields)...)
		default:
			out = append(out, f)
		}
	}
	return out
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
