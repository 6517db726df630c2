package config

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/screenrec/recorder/pkg/secret"
)

// Environment overrides, for deployment. A variable set to the empty string is ignored.
// Values are parsed like the YAML fields they override (durations "10m", sizes "10GiB",
// booleans true/false, RECORDER_ENGINE_ENCODERS a comma-separated list); one that does not
// parse is an error naming the variable. Relative paths from the environment are relative to
// the working directory.
//
// Besides these, RECORDER_FRONTENDS_<NAME>_<KEY>=value and RECORDER_UPLOADERS_<NAME>_<KEY>=value
// set config.<key> of the front end or uploader called name (NAME and KEY are upper-cased, '-'
// written '_'). KEY matches an existing key of that config case-insensitively (with '-' as '_');
// otherwise the lower-cased KEY is added. The value takes the type of the value it replaces
// (bool, integer, number; a string otherwise, and for a new key); replacing a secret reference
// makes the value the reference {env: <the variable itself>}, so it stays a reference. An
// override for an adapter that is not configured is an error.
const (
	EnvSpoolDir              = "RECORDER_SPOOL_DIR"
	EnvDisplay               = "RECORDER_DISPLAY"
	EnvPluginDir             = "RECORDER_PLUGIN_DIR"
	EnvLogLevel              = "RECORDER_LOG_LEVEL"
	EnvLogFormat             = "RECORDER_LOG_FORMAT"
	EnvEngineFPS             = "RECORDER_ENGINE_FPS"
	EnvEngineMaxSessions     = "RECORDER_ENGINE_MAX_SESSIONS"
	EnvEngineMaxDuration     = "RECORDER_ENGINE_MAX_DURATION"
	EnvEngineSegmentDuration = "RECORDER_ENGINE_SEGMENT_DURATION"
	EnvEngineSpoolQuota      = "RECORDER_ENGINE_SPOOL_QUOTA"
	EnvEngineMinFreeDisk     = "RECORDER_ENGINE_MIN_FREE_DISK"
	EnvEngineEncoders        = "RECORDER_ENGINE_ENCODERS"
	EnvEngineMaxWidth        = "RECORDER_ENGINE_MAX_WIDTH"
	EnvEngineMaxHeight       = "RECORDER_ENGINE_MAX_HEIGHT"
	EnvEngineDrawMouse       = "RECORDER_ENGINE_DRAW_MOUSE"
	EnvEngineMaskColor       = "RECORDER_ENGINE_MASK_COLOR"
	EnvUploadConcurrency     = "RECORDER_UPLOAD_CONCURRENCY"
	EnvUploadRetryBaseDelay  = "RECORDER_UPLOAD_RETRY_BASE_DELAY"
	EnvUploadRetryMaxDelay   = "RECORDER_UPLOAD_RETRY_MAX_DELAY"
	EnvUploadTarget          = "RECORDER_UPLOAD_TARGET"

	// EnvFrontendsPrefix and EnvUploadersPrefix start per-adapter overrides.
	EnvFrontendsPrefix = "RECORDER_FRONTENDS_"
	EnvUploadersPrefix = "RECORDER_UPLOADERS_"
)

// envField is one fixed override: the variable, the field path it sets and how.
type envField struct {
	name, path string
	set        func(c *Config, v string) error
}

var envFields = []envField{
	{EnvSpoolDir, "spool_dir", func(c *Config, v string) error { c.SpoolDir = v; return nil }},
	{EnvDisplay, "display", func(c *Config, v string) error { c.Display = v; return nil }},
	{EnvPluginDir, "plugin_dir", func(c *Config, v string) error { c.PluginDir = v; return nil }},
	{EnvLogLevel, "log.level", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{EnvLogFormat, "log.format", func(c *Config, v string) error { c.Log.Format = v; return nil }},
	{EnvEngineFPS, "engine.fps", intSetter(func(c *Config) *int { return &c.Engine.FPS })},
	{EnvEngineMaxSessions, "engine.max_sessions", intSetter(func(c *Config) *int { return &c.Engine.MaxSessions })},
	{EnvEngineMaxDuration, "engine.max_duration", durationSetter(func(c *Config) *Duration { return &c.Engine.MaxDuration })},
	{EnvEngineSegmentDuration, "engine.segment_duration", durationSetter(func(c *Config) *Duration { return &c.Engine.SegmentDuration })},
	{EnvEngineSpoolQuota, "engine.spool_quota", sizeSetter(func(c *Config) *ByteSize { return &c.Engine.SpoolQuota })},
	{EnvEngineMinFreeDisk, "engine.min_free_disk", sizeSetter(func(c *Config) *ByteSize { return &c.Engine.MinFreeDisk })},
	{EnvEngineEncoders, "engine.encoders", func(c *Config, v string) error {
		var list []string
		for _, s := range strings.Split(v, ",") {
			list = append(list, strings.TrimSpace(s))
		}
		c.Engine.Encoders = list
		return nil
	}},
	{EnvEngineMaxWidth, "engine.max_width", intSetter(func(c *Config) *int { return &c.Engine.MaxWidth })},
	{EnvEngineMaxHeight, "engine.max_height", intSetter(func(c *Config) *int { return &c.Engine.MaxHeight })},
	{EnvEngineDrawMouse, "engine.draw_mouse", func(c *Config, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		c.Engine.DrawMouse = &b
		return nil
	}},
	{EnvEngineMaskColor, "engine.mask_color", func(c *Config, v string) error { c.Engine.MaskColor = v; return nil }},
	{EnvUploadConcurrency, "upload.concurrency", intSetter(func(c *Config) *int { return &c.Upload.Concurrency })},
	{EnvUploadRetryBaseDelay, "upload.retry_base_delay", durationSetter(func(c *Config) *Duration { return &c.Upload.RetryBaseDelay })},
	{EnvUploadRetryMaxDelay, "upload.retry_max_delay", durationSetter(func(c *Config) *Duration { return &c.Upload.RetryMaxDelay })},
	{EnvUploadTarget, "upload.target", func(c *Config, v string) error { c.Upload.Target = v; return nil }},
}

func intSetter(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*field(c) = n
		return nil
	}
}

func durationSetter(field func(*Config) *Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*field(c) = Duration(d)
		return nil
	}
}

func sizeSetter(field func(*Config) *ByteSize) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := ParseByteSize(v)
		if err != nil {
			return err
		}
		*field(c) = b
		return nil
	}
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
	for _, f := range slices.Concat(envFields, adminEnvFields, telemetryEnvFields) {
		v, ok := env[f.name]
		if !ok {
			continue
		}
		if err := f.set(c, v); err != nil {
			return &Error{Env: f.name, Path: f.path, Msg: err.Error(), Kind: ErrEnv}
		}
		src.setByEnv(f.path, f.name)
	}

	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		var kind, section string
		var adapters []Adapter
		switch {
		case strings.HasPrefix(name, EnvFrontendsPrefix):
			kind, section, adapters = "front end", "frontends", c.Frontends
		case strings.HasPrefix(name, EnvUploadersPrefix):
			kind, section, adapters = "uploader", "uploaders", c.Uploaders
		default:
			continue
		}
		if err := applyAdapterEnv(name, env[name], kind, section, adapters, src); err != nil {
			return err
		}
	}
	return nil
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
	for _, k := range sortedKeys(a.Config) {
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
