package config

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/screenrec/recorder/pkg/config/decl"
	"github.com/screenrec/recorder/pkg/secret"
)

// Environment overrides, for deployment. Every key of Config that holds a value has one,
// named RECORDER_ and the key's path upper-cased with '.' written '_' (engine.fps:
// RECORDER_ENGINE_FPS; EnvNames lists them). A variable set to the empty string is ignored.
// Values are written as text (decl.FromText): numbers, durations ("10m"), sizes ("10GiB"),
// booleans (true/false), lists comma-separated (RECORDER_ENGINE_ENCODERS=h264_vaapi,libx264),
// mappings as comma-separated key=value pairs (RECORDER_ENGINE_ENCODER_OPTIONS=crf=28,preset=fast);
// a secret key's variable holds the secret itself, and the key becomes the reference
// {env: <the variable>} (RECORDER_ADMIN_TOKEN). A value that does not parse is an error naming
// the variable. Relative paths from the environment are relative to the working directory.
//
// Besides these, RECORDER_FRONTENDS_<NAME>_<KEY>=value and RECORDER_UPLOADERS_<NAME>_<KEY>=value
// set config.<key> of the front end or uploader called name (NAME and KEY are upper-cased, '-'
// written '_'). KEY matches an existing key of that config case-insensitively (with '-' as '_');
// otherwise the lower-cased KEY is added. The value takes the type of the value it replaces
// (bool, integer, number) and is a string otherwise, for a new key too: the adapter's own
// declaration (plugins/sdk/sdkconfig) reads such strings as the key's type, so "3", "true",
// "60s" and "a,b" set an integer, a boolean, a duration and a list. Replacing a secret
// reference makes the value the reference {env: <the variable itself>}, so it stays a
// reference. An override for an adapter that is not configured is an error.
//
// Overrides are strict like the file: any other RECORDER_* variable is an error, except
// those the config names in a secret reference ({env: RECORDER_…}) and EnvPluginCookie.
const (
	// EnvPrefix starts every override.
	EnvPrefix = "RECORDER_"
	// EnvFrontendsPrefix and EnvUploadersPrefix start per-adapter overrides.
	EnvFrontendsPrefix = "RECORDER_FRONTENDS_"
	EnvUploadersPrefix = "RECORDER_UPLOADERS_"
	// EnvPluginCookie is not an override: plugin processes find it set by the host
	// (plugins/sdk's handshake).
	EnvPluginCookie = "RECORDER_PLUGIN"

	// EnvTelemetryEnabled and EnvTelemetryServiceName are the overrides of telemetry.enabled
	// and telemetry.service_name, which the recorder also reads before a config is loaded.
	EnvTelemetryEnabled     = "RECORDER_TELEMETRY_ENABLED"
	EnvTelemetryServiceName = "RECORDER_TELEMETRY_SERVICE_NAME"
)

// EnvName is the override variable of the key at path ("engine.fps": RECORDER_ENGINE_FPS).
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// envFields are the keys that have an override: every leaf of Config's declaration.
var envFields = sync.OnceValue(func() map[string]decl.Field {
	m := map[string]decl.Field{}
	for _, f := range decl.Leaves(decl.Fields(Default())) {
		m[EnvName(f.Path)] = f
	}
	return m
})

// EnvNames lists every override variable of a key of Config, sorted (the adapter overrides,
// RECORDER_FRONTENDS_… and RECORDER_UPLOADERS_…, come on top).
func EnvNames() []string {
	names := make([]string, 0, len(envFields()))
	for n := range envFields() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (true or false)", v)
	}
	return b, nil
}

// environMap turns os.Environ's "KEY=value" list into a map (the last of duplicates wins, as
// in os/exec), leaving out empty values.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

// applyEnv applies the overrides in environ to c, recording in src which fields they set.
func applyEnv(c *Config, environ []string, src *source) *Error {
	env := environMap(environ)
	names := make([]string, 0, len(env))
	for k := range env {
		if strings.HasPrefix(k, EnvPrefix) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	refs := c.secretEnvRefs()
	fields := envFields()
	for _, name := range names {
		f, ok := fields[name]
		if !ok {
			continue
		}
		v, err := decl.FromText(f, name, env[name])
		if err != nil {
			return &Error{Env: name, Path: f.Path, Msg: err.Error(), Kind: ErrEnv}
		}
		if probs := decl.Decode(decl.Nest(f.Path, v), c, decl.Options{}); len(probs) > 0 {
			e := problemErr(probs[0])
			e.Env, e.Kind = name, ErrEnv
			return e
		}
		src.setByEnv(f.Path, name)
	}
	for _, name := range names {
		var kind, section string
		var adapters []Adapter
		switch {
		case fields[name].Path != "" || refs[name] || name == EnvPluginCookie:
			continue
		case strings.HasPrefix(name, EnvFrontendsPrefix):
			kind, section, adapters = "front end", "frontends", c.Frontends
		case strings.HasPrefix(name, EnvUploadersPrefix):
			kind, section, adapters = "uploader", "uploaders", c.Uploaders
		default:
			return unknownEnv(name)
		}
		if err := applyAdapterEnv(name, env[name], kind, section, adapters, src); err != nil {
			return err
		}
	}
	return nil
}

// unknownEnv reports a RECORDER_ variable that is no override, suggesting the nearest one.
func unknownEnv(name string) *Error {
	msg := "not a configuration variable"
	if best := decl.Closest(name, EnvNames()); best != "" {
		msg += fmt.Sprintf("; did you mean $%s?", best)
	} else {
		msg += " (the variables are RECORDER_ and a key's path: RECORDER_ENGINE_FPS for engine.fps)"
	}
	return &Error{Env: name, Msg: msg, Kind: ErrEnv}
}

// secretEnvRefs returns the variables c's secret references name ({env: NAME}), which are
// not overrides although they may start with RECORDER_.
func (c *Config) secretEnvRefs() map[string]bool {
	refs := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		if r, ok, err := secret.Parse(v); ok {
			if err == nil && r.Env != "" {
				refs[r.Env] = true
			}
			return
		}
		switch t := v.(type) {
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(c.Admin.Token)
	for _, a := range slices.Concat(c.Frontends, c.Uploaders) {
		walk(a.Config)
	}
	return refs
}

// envName is how a name or key is written in a variable name: upper case, '-' as '_'.
func envName(s string) string {
	return strings.ReplaceAll(strings.ToUpper(s), "-", "_")
}

// applyAdapterEnv applies RECORDER_<SECTION>_<NAME>_<KEY>=value to the adapter called name.
func applyAdapterEnv(name, value, kind, section string, adapters []Adapter, src *source) *Error {
	rest := strings.TrimPrefix(name, "RECORDER_"+strings.ToUpper(section)+"_")
	// The longest configured name that fits, so "my-probe" wins over "my" for MY_PROBE_LISTEN.
	idx, key := -1, ""
	for i, a := range adapters {
		n := envName(a.Name)
		if a.Name == "" || !strings.HasPrefix(rest, n+"_") || len(rest) == len(n)+1 {
			continue
		}
		if idx < 0 || len(n) > len(envName(adapters[idx].Name)) {
			idx, key = i, rest[len(n)+1:]
		}
	}
	if idx < 0 {
		for _, a := range adapters {
			if a.Name != "" && rest == envName(a.Name) {
				return &Error{Env: name, Kind: ErrEnv,
					Msg: fmt.Sprintf("names no key of %s %s (write %s_<KEY>)", kind, a.Name, name)}
			}
		}
		var configured []string
		for _, a := range adapters {
			configured = append(configured, a.Name)
		}
		list := "none"
		if len(configured) > 0 {
			list = strings.Join(configured, ", ")
		}
		return &Error{Env: name, Kind: ErrEnv,
			Msg: fmt.Sprintf("matches no configured %s (%s: %s)", kind, section, list)}
	}
	a := &adapters[idx]
	field := ""
	for _, k := range slices.Sorted(maps.Keys(a.Config)) {
		if envName(k) == key {
			if field != "" {
				return &Error{Env: name, Path: fmt.Sprintf("%s[%d].config", section, idx), Kind: ErrEnv,
					Msg: fmt.Sprintf("matches both %q and %q", field, k)}
			}
			field = k
		}
	}
	if field == "" {
		field = strings.ToLower(key)
	}
	path := fmt.Sprintf("%s[%d].config.%s", section, idx, field)
	v, err := envValue(name, value, a.Config[field])
	if err != nil {
		return &Error{Env: name, Path: path, Msg: err.Error(), Kind: ErrEnv}
	}
	if a.Config == nil {
		a.Config = map[string]any{}
	}
	a.Config[field] = v
	src.setByEnv(path, name)
	return nil
}

// envValue converts value to the type of the value it replaces.
func envValue(name, value string, old any) (any, error) {
	if _, ok, _ := secret.Parse(old); ok {
		return map[string]any{"env": name}, nil
	}
	switch old.(type) {
	case nil, string:
		return value, nil
	case bool:
		return parseBool(value)
	case int, int64, uint64:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", value)
		}
		if n >= math.MinInt && n <= math.MaxInt {
			return int(n), nil
		}
		return n, nil
	case float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", value)
		}
		return f, nil
	case map[string]any, map[any]any:
		return nil, fmt.Errorf("cannot replace a mapping from the environment")
	case []any:
		return nil, fmt.Errorf("cannot replace a list from the environment")
	default:
		return value, nil
	}
}
