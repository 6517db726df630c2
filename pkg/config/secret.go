package config

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
)

// Secret is a reference to a secret, written in a config as a mapping with exactly one key:
//
//	password: {env: RWS_PASSWORD}          # the variable's value
//	password: {file: /run/secrets/rws}     # the file's content, less one trailing newline
//
// Secrets are only ever referenced from the config, never written inline. A mapping with
// other keys besides env and file is an ordinary mapping, not a reference.
type Secret struct {
	// Env names the environment variable holding the secret.
	Env string `yaml:"env,omitempty" json:"env,omitempty"`
	// File is the path of the file holding the secret (relative paths in a config file are
	// resolved against its folder at load).
	File string `yaml:"file,omitempty" json:"file,omitempty"`
}

// String describes the reference (never a value): "env NAME" or "file PATH".
func (s Secret) String() string {
	if s.Env != "" {
		return "env " + s.Env
	}
	return "file " + s.File
}

// Resolve returns the secret: the variable's value (env looks it up, like os.LookupEnv) or
// the file's content less one trailing newline ("\n" or "\r\n").
func (s Secret) Resolve(env func(string) (string, bool)) (string, error) {
	switch {
	case s.Env != "" && s.File != "":
		return "", fmt.Errorf("a secret reference takes env or file, not both")
	case s.Env != "":
		if env == nil {
			env = os.LookupEnv
		}
		v, ok := env(s.Env)
		if !ok {
			return "", fmt.Errorf("env %s is not set", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("file %s: cannot read it: %v", s.File, unwrapPathErr(err))
		}
		v := string(b)
		if strings.HasSuffix(v, "\r\n") {
			v = v[:len(v)-2]
		} else if strings.HasSuffix(v, "\n") {
			v = v[:len(v)-1]
		}
		return v, nil
	}
	return "", fmt.Errorf("an empty secret reference: write {env: NAME} or {file: PATH}")
}

// unwrapPathErr drops the *PathError's repetition of the path.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// secretRef reports whether v is written as a secret reference — a non-empty mapping whose
// keys are all env or file — and if so returns it, with an error when it is malformed (both
// keys, or a value that is not a non-empty string). A Secret value is a reference too.
func secretRef(v any) (s Secret, isRef bool, err error) {
	switch t := v.(type) {
	case Secret:
		if (t.Env == "") == (t.File == "") {
			return t, true, fmt.Errorf("a secret reference takes exactly one of env and file")
		}
		return t, true, nil
	case *Secret:
		if t == nil {
			return Secret{}, false, nil
		}
		return secretRef(*t)
	case map[string]any:
		if len(t) == 0 {
			return Secret{}, false, nil
		}
		for k := range t {
			if k != "env" && k != "file" {
				return Secret{}, false, nil
			}
		}
		if len(t) == 2 {
			return Secret{}, true, fmt.Errorf("a secret reference takes env or file, not both")
		}
		for k, x := range t {
			str, ok := x.(string)
			if !ok || strings.TrimSpace(str) == "" {
				what := "a variable name"
				if k == "file" {
					what = "a path"
				}
				return Secret{}, true, fmt.Errorf("a secret reference's %s must be %s", k, what)
			}
			if k == "env" {
				s.Env = str
			} else {
				s.File = str
			}
		}
		return s, true, nil
	}
	return Secret{}, false, nil
}

// IsSecretRef reports whether v is a well-formed secret reference: a mapping with exactly one
// key, env or file, whose value is a non-empty string (as decoded from YAML or JSON), or a
// Secret naming exactly one of them.
func IsSecretRef(v any) bool {
	_, ok, err := secretRef(v)
	return ok && err == nil
}

// ResolveSecrets returns a deep copy of m (an adapter's config section) with every secret
// reference, at any depth in mappings and lists, replaced by its value; m is left as it is.
// env looks variables up (os.LookupEnv when nil). Errors are *Error (ErrSecret) naming the
// field relative to m: "password: env RWS_PASSWORD is not set", "servers[1].token: file
// /run/x: cannot read it: no such file or directory". Config.Resolved does the same for every
// adapter with full paths and lines.
func ResolveSecrets(m map[string]any, env func(string) (string, bool)) (map[string]any, error) {
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
	if s, ok, err := secretRef(v); ok {
		if err == nil {
			var val string
			if val, err = s.Resolve(env); err == nil {
				return val, nil
			}
		}
		return nil, &Error{Path: path, Msg: err.Error(), Kind: ErrSecret}
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
	case map[any]any:
		out := make(map[any]any, len(t))
		for k, x := range t {
			r, err := resolveValue(joinPath(path, fmt.Sprint(k)), x, env)
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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Resolved returns a copy of c whose adapter configs have every secret reference replaced by
// its value (see ResolveSecrets); c keeps the references. Errors name the full path and its
// line: "configs/x.yaml:14: uploaders[0].config.password: env RWS_PASSWORD is not set".
func (c *Config) Resolved(env func(string) (string, bool)) (*Config, error) {
	out := *c
	for _, kind := range []struct {
		section string
		list    *[]Adapter
	}{{"frontends", &out.Frontends}, {"uploaders", &out.Uploaders}} {
		if *kind.list == nil {
			continue
		}
		resolved := make([]Adapter, len(*kind.list))
		for i, a := range *kind.list {
			prefix := fmt.Sprintf("%s[%d].config", kind.section, i)
			m, err := ResolveSecrets(a.Config, env)
			if err != nil {
				e := *err.(*Error)
				e.Path = joinPath(prefix, e.Path)
				return nil, c.src.locate(&e)
			}
			a.Config = m
			resolved[i] = a
		}
		*kind.list = resolved
	}
	return &out, nil
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
