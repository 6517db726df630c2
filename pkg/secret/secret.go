// Package secret resolves secrets written by reference in configuration:
//
//	password: {env: RWS_PASSWORD}          # the variable's value
//	password: {file: /run/secrets/rws}     # the file's content, less one trailing newline
//
// Secrets are only ever referenced from a config, never written inline. A mapping with other
// keys besides env and file is an ordinary mapping, not a reference. The recorder's config
// checks references for shape at load; the plugin host resolves them just before handing an
// adapter its section, after checking that every field the adapter marks secret is one.
package secret

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
)

// Ref is a reference to a secret: exactly one of Env and File is set.
type Ref struct {
	// Env names the environment variable holding the secret.
	Env string `yaml:"env,omitempty" json:"env,omitempty"`
	// File is the path of the file holding the secret (relative paths in a config file are
	// resolved against its folder at load).
	File string `yaml:"file,omitempty" json:"file,omitempty"`
}

// String describes the reference (never a value): "env NAME" or "file PATH".
func (r Ref) String() string {
	if r.Env != "" {
		return "env " + r.Env
	}
	return "file " + r.File
}

// Resolve returns the secret: the variable's value (env looks it up, like os.LookupEnv,
// which it defaults to) or the file's content less one trailing newline ("\n" or "\r\n").
func (r Ref) Resolve(env func(string) (string, bool)) (string, error) {
	switch {
	case r.Env != "" && r.File != "":
		return "", &problem{ErrMalformed, "a secret reference takes env or file, not both"}
	case r.Env != "":
		if env == nil {
			env = os.LookupEnv
		}
		v, ok := env(r.Env)
		if !ok {
			return "", &problem{ErrUnresolved, fmt.Sprintf("env %s is not set", r.Env)}
		}
		return v, nil
	case r.File != "":
		b, err := os.ReadFile(r.File)
		if err != nil {
			if pe, ok := err.(*os.PathError); ok {
				err = pe.Err // the path is said already
			}
			return "", &problem{ErrUnresolved, fmt.Sprintf("file %s: cannot read it: %v", r.File, err)}
		}
		v := string(b)
		if strings.HasSuffix(v, "\r\n") {
			v = v[:len(v)-2]
		} else if strings.HasSuffix(v, "\n") {
			v = v[:len(v)-1]
		}
		return v, nil
	}
	return "", &problem{ErrMalformed, "an empty secret reference: write {env: NAME} or {file: PATH}"}
}

// Parse reports whether v is written as a reference — a non-empty mapping whose keys are all
// env or file, or a Ref — and if so returns it, with an ErrMalformed error when it is
// malformed (both keys, or a value that is not a non-empty string).
func Parse(v any) (r Ref, isRef bool, err error) {
	switch t := v.(type) {
	case Ref:
		if (t.Env == "") == (t.File == "") {
			return t, true, &problem{ErrMalformed, "a secret reference takes exactly one of env and file"}
		}
		return t, true, nil
	case *Ref:
		if t == nil {
			return Ref{}, false, nil
		}
		return Parse(*t)
	case map[string]any:
		if len(t) == 0 {
			return Ref{}, false, nil
		}
		for k := range t {
			if k != "env" && k != "file" {
				return Ref{}, false, nil
			}
		}
		if len(t) == 2 {
			return Ref{}, true, &problem{ErrMalformed, "a secret reference takes env or file, not both"}
		}
		for k, x := range t {
			str, ok := x.(string)
			if !ok || strings.TrimSpace(str) == "" {
				what := "a variable name"
				if k == "file" {
					what = "a path"
				}
				return Ref{}, true, &problem{ErrMalformed, fmt.Sprintf("a secret reference's %s must be %s", k, what)}
			}
			if k == "env" {
				r.Env = str
			} else {
				r.File = str
			}
		}
		return r, true, nil
	}
	return Ref{}, false, nil
}

// IsRef reports whether v is a well-formed reference: a mapping with exactly one key, env or
// file, whose value is a non-empty string (as decoded from YAML or JSON), or a Ref naming
// exactly one of them.
func IsRef(v any) bool {
	_, ok, err := Parse(v)
	return ok && err == nil
}

// ResolveAll returns a deep copy of m (an adapter's config section) with every reference, at
// any depth in mappings and lists, replaced by its value; m is left as it is. env looks
// variables up (os.LookupEnv when nil). Errors are *PathError naming the field relative to
// m: "password: env RWS_PASSWORD is not set", "servers[1].token: file /run/x: cannot read
// it: no such file or directory".
func ResolveAll(m map[string]any, env func(string) (string, bool)) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	// Configs built in Go ([]map[string]any, typed slices) get the shapes a YAML decode gives,
	// so that every reference is found wherever it sits.
	m = plainContainers(m).(map[string]any)
	out, err := resolveValue("", m, env)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

// resolveValue resolves the references in v, a value at path.
func resolveValue(path string, v any, env func(string) (string, bool)) (any, error) {
	if r, ok, err := Parse(v); ok {
		if err == nil {
			var val string
			if val, err = r.Resolve(env); err == nil {
				return val, nil
			}
		}
		return nil, &PathError{Path: path, Err: err}
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			r, err := resolveValue(joinPath(path, k), t[k], env)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			r, err := resolveValue(fmt.Sprintf("%s[%d]", path, i), x, env)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// FindInline looks for a value written inline at a secret field's path ("password",
// "signing_keys[].key", "tls.key") in cfg, returning where it is (prefix and the path, with
// list indexes: "config.signing_keys[1].key"), or "" when every value there is a reference
// (or absent).
func FindInline(cfg any, field, prefix string) string {
	cfg = plainContainers(cfg)
	if field == "" {
		if cfg == nil || IsRef(cfg) {
			return ""
		}
		return prefix
	}
	name, rest, _ := strings.Cut(field, ".")
	list := strings.HasSuffix(name, "[]")
	name = strings.TrimSuffix(name, "[]")
	m, ok := cfg.(map[string]any)
	if !ok {
		return ""
	}
	v, ok := m[name]
	if !ok {
		return ""
	}
	where := joinPath(prefix, name)
	if !list {
		return FindInline(v, rest, where)
	}
	l, _ := v.([]any)
	for i, e := range l {
		if w := FindInline(e, rest, fmt.Sprintf("%s[%d]", where, i)); w != "" {
			return w
		}
	}
	return ""
}

// joinPath joins a field path and a key: ("a", "b") → "a.b", ("", "b") → "b".
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// sortedKeys returns m's keys in order, so walks and messages are deterministic.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// plainContainers copies v with every string-keyed map as map[string]any and every slice or
// array as []any, leaving other values as they are.
func plainContainers(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return v
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			out[it.Key().String()] = plainContainers(it.Value().Interface())
		}
		return out
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return v
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = plainContainers(rv.Index(i).Interface())
		}
		return out
	}
	return v
}
