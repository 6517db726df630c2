package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// adapters is a config with two front ends and an uploader, for the override tests.
var adapters = doc(
	"frontends:",
	"  - name: srs",
	"    config:",
	"      Listen: '127.0.0.1:1935'",
	"      max-clients: 10",
	"      ratio: 0.5",
	"      tls: false",
	"      password: {env: SRS_PASSWORD}",
	"      nested: {a: 1}",
	"      list: [1, 2]",
	"  - name: my-probe",
	"uploaders:",
	"  - name: noop",
)

func TestEnvOverrides(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		env   string
		check func(c *Config) any // the field the variable sets
		want  any
	}{
		{"RECORDER_SPOOL_DIR=/env/spool", func(c *Config) any { return c.SpoolDir }, "/env/spool"},
		{"RECORDER_DISPLAY=:9", func(c *Config) any { return c.Display }, ":9"},
		{"RECORDER_PLUGIN_DIR=/env/plugins", func(c *Config) any { return c.PluginDir }, "/env/plugins"},
		{"RECORDER_LOG_LEVEL=debug", func(c *Config) any { return c.Log.Level }, "debug"},
		{"RECORDER_LOG_FORMAT=json", func(c *Config) any { return c.Log.Format }, "json"},
		{"RECORDER_ENGINE_FPS=25", func(c *Config) any { return c.Engine.FPS }, 25},
		{"RECORDER_ENGINE_MAX_SESSIONS=3", func(c *Config) any { return c.Engine.MaxSessions }, 3},
		{"RECORDER_ENGINE_MAX_DURATION=2h", func(c *Config) any { return c.Engine.MaxDuration }, Duration(2 * time.Hour)},
		{"RECORDER_ENGINE_SEGMENT_DURATION=0", func(c *Config) any { return c.Engine.SegmentDuration }, Duration(0)},
		{"RECORDER_ENGINE_SPOOL_QUOTA=10GiB", func(c *Config) any { return c.Engine.SpoolQuota }, 10 * GiB},
		{"RECORDER_ENGINE_MIN_FREE_DISK=1GB", func(c *Config) any { return c.Engine.MinFreeDisk }, ByteSize(1e9)},
		{"RECORDER_ENGINE_ENCODERS=h264_vaapi, libx264", func(c *Config) any { return c.Engine.Encoders }, []string{"h264_vaapi", "libx264"}},
		{"RECORDER_ENGINE_MAX_WIDTH=1920", func(c *Config) any { return c.Engine.MaxWidth }, 1920},
		{"RECORDER_ENGINE_MAX_HEIGHT=1080", func(c *Config) any { return c.Engine.MaxHeight }, 1080},
		{"RECORDER_ENGINE_DRAW_MOUSE=false", func(c *Config) any { return c.Engine.DrawMouse }, &no},
		{"RECORDER_ENGINE_DRAW_MOUSE=1", func(c *Config) any { return c.Engine.DrawMouse }, &yes},
		{"RECORDER_ENGINE_MASK_COLOR=#ffffff", func(c *Config) any { return c.Engine.MaskColor }, "#ffffff"},
		{"RECORDER_UPLOAD_CONCURRENCY=8", func(c *Config) any { return c.Upload.Concurrency }, 8},
		{"RECORDER_UPLOAD_RETRY_BASE_DELAY=1s", func(c *Config) any { return c.Upload.RetryBaseDelay }, Duration(time.Second)},
		{"RECORDER_UPLOAD_RETRY_MAX_DELAY=1h", func(c *Config) any { return c.Upload.RetryMaxDelay }, Duration(time.Hour)},
		{"RECORDER_UPLOAD_TARGETS=noop", func(c *Config) any { return c.Upload.Targets }, []string{"noop"}},
		{"RECORDER_ENGINE_FPS=", func(c *Config) any { return c.Engine.FPS }, 12}, // empty: ignored

		// Adapter config keys: existing keys keep their type; new keys are strings.
		{"RECORDER_FRONTENDS_SRS_LISTEN=127.0.0.1:9000", func(c *Config) any { return c.Frontends[0].Config["Listen"] }, "127.0.0.1:9000"},
		{"RECORDER_FRONTENDS_SRS_MAX_CLIENTS=20", func(c *Config) any { return c.Frontends[0].Config["max-clients"] }, 20},
		{"RECORDER_FRONTENDS_SRS_RATIO=0.25", func(c *Config) any { return c.Frontends[0].Config["ratio"] }, 0.25},
		{"RECORDER_FRONTENDS_SRS_TLS=true", func(c *Config) any { return c.Frontends[0].Config["tls"] }, true},
		{"RECORDER_FRONTENDS_SRS_NEW_KEY=v", func(c *Config) any { return c.Frontends[0].Config["new_key"] }, "v"},
		{"RECORDER_FRONTENDS_SRS_PASSWORD=hunter2", func(c *Config) any { return c.Frontends[0].Config["password"] },
			map[string]any{"env": "RECORDER_FRONTENDS_SRS_PASSWORD"}},
		{"RECORDER_FRONTENDS_MY_PROBE_LISTEN=127.0.0.1:1", func(c *Config) any { return c.Frontends[1].Config }, map[string]any{"listen": "127.0.0.1:1"}},
		{"RECORDER_UPLOADERS_NOOP_FAIL=true", func(c *Config) any { return c.Uploaders[0].Config }, map[string]any{"fail": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			base := append(adapters[:len(adapters):len(adapters)], doc("engine:", "  fps: 12")...)
			c := mustParse(t, base, tt.env)
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvOverridesLeaveOthers(t *testing.T) {
	c := mustParse(t, adapters, "RECORDER_FRONTENDS_SRS_LISTEN=:1", "PATH=/bin", "RECORDER_UNRELATED=")
	want := map[string]any{"Listen": ":1", "max-clients": 10, "ratio": 0.5, "tls": false,
		"password": map[string]any{"env": "SRS_PASSWORD"}, "nested": map[string]any{"a": 1}, "list": []any{1, 2}}
	if got := c.Frontends[0].Config; !reflect.DeepEqual(got, want) {
		t.Errorf("config = %#v\nwant %#v", got, want)
	}
	if c.Frontends[1].Config != nil || c.Uploaders[0].Config != nil {
		t.Errorf("other adapters changed: %#v, %#v", c.Frontends[1].Config, c.Uploaders[0].Config)
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		env  []string
		want string
		kind error
	}{
		{[]string{"RECORDER_ENGINE_FPS=abc"}, `$RECORDER_ENGINE_FPS: engine.fps: "abc" is not an integer`, ErrEnv},
		{[]string{"RECORDER_ENGINE_MAX_SESSIONS=many"}, `$RECORDER_ENGINE_MAX_SESSIONS: engine.max_sessions: "many" is not an integer`, ErrEnv},
		{[]string{"RECORDER_ENGINE_MAX_DURATION=1 hour"}, `$RECORDER_ENGINE_MAX_DURATION: engine.max_duration: "1 hour" is not a duration: use a number with a unit (ns, us, ms, s, m, h), e.g. "90s" or "1h30m"`, ErrEnv},
		{[]string{"RECORDER_ENGINE_SPOOL_QUOTA=lots"}, `$RECORDER_ENGINE_SPOOL_QUOTA: engine.spool_quota: "lots" is not a byte size: write a number of bytes or a number with a unit, e.g. "512MiB" or "10GB"`, ErrEnv},
		{[]string{"RECORDER_ENGINE_DRAW_MOUSE=yes please"}, `$RECORDER_ENGINE_DRAW_MOUSE: engine.draw_mouse: "yes please" is not a boolean (true or false)`, ErrEnv},
		// Values that parse but are out of range name the variable too.
		{[]string{"RECORDER_ENGINE_FPS=0"}, `$RECORDER_ENGINE_FPS: engine.fps: 0 is out of range 1-60`, ErrBadValue},
		{[]string{"RECORDER_LOG_LEVEL=loud"}, `$RECORDER_LOG_LEVEL: log.level: "loud" is not one of debug, info, warn, error`, ErrBadValue},
		// Adapters.
		{[]string{"RECORDER_FRONTENDS_NOPE_LISTEN=:1"}, `$RECORDER_FRONTENDS_NOPE_LISTEN: matches no configured front end (frontends: srs, my-probe)`, ErrEnv},
		{[]string{"RECORDER_UPLOADERS_S3_BUCKET=b"}, `$RECORDER_UPLOADERS_S3_BUCKET: matches no configured uploader (uploaders: noop)`, ErrEnv},
		{[]string{"RECORDER_FRONTENDS_SRS=x"}, `$RECORDER_FRONTENDS_SRS: names no key of front end srs (write RECORDER_FRONTENDS_SRS_<KEY>)`, ErrEnv},
		{[]string{"RECORDER_FRONTENDS_SRS_MAX_CLIENTS=lots"}, `$RECORDER_FRONTENDS_SRS_MAX_CLIENTS: frontends[0].config.max-clients: "lots" is not an integer`, ErrEnv},
		{[]string{"RECORDER_FRONTENDS_SRS_TLS=on"}, `$RECORDER_FRONTENDS_SRS_TLS: frontends[0].config.tls: "on" is not a boolean (true or false)`, ErrEnv},
		{[]string{"RECORDER_FRONTENDS_SRS_RATIO=half"}, `$RECORDER_FRONTENDS_SRS_RATIO: frontends[0].config.ratio: "half" is not a number`, ErrEnv},
		{[]string{"RECORDER_FRONTENDS_SRS_NESTED=x"}, `$RECORDER_FRONTENDS_SRS_NESTED: frontends[0].config.nested: cannot replace a mapping from the environment`, ErrEnv},
		{[]string{"RECORDER_FRONTENDS_SRS_LIST=x"}, `$RECORDER_FRONTENDS_SRS_LIST: frontends[0].config.list: cannot replace a list from the environment`, ErrEnv},
	}
	for _, tt := range tests {
		t.Run(tt.env[0], func(t *testing.T) {
			_, err := Parse("x.yaml", adapters, tt.env)
			checkErr(t, err, tt.want, tt.kind)
		})
	}

	// No adapters configured at all.
	_, err := Parse("x.yaml", nil, []string{"RECORDER_UPLOADERS_NOOP_FAIL=true"})
	checkErr(t, err, `$RECORDER_UPLOADERS_NOOP_FAIL: matches no configured uploader (uploaders: none)`, ErrEnv)

	// Two existing keys that read the same in a variable name.
	_, err = Parse("x.yaml", doc("frontends:", "  - name: a", "    config: {b-c: 1, b_c: 2}"), []string{"RECORDER_FRONTENDS_A_B_C=3"})
	checkErr(t, err, `$RECORDER_FRONTENDS_A_B_C: frontends[0].config: matches both "b-c" and "b_c"`, ErrEnv)
}

func TestEnvLongestAdapterName(t *testing.T) {
	c := mustParse(t, doc(
		"frontends:",
		"  - name: my",
		"  - name: my-probe",
	), "RECORDER_FRONTENDS_MY_PROBE_LISTEN=:1", "RECORDER_FRONTENDS_MY_OTHER=2")
	if got := c.Frontends[1].Config; !reflect.DeepEqual(got, map[string]any{"listen": ":1"}) {
		t.Errorf("my-probe config = %v", got)
	}
	if got := c.Frontends[0].Config; !reflect.DeepEqual(got, map[string]any{"other": "2"}) {
		t.Errorf("my config = %v", got)
	}
}

func TestEnvironMap(t *testing.T) {
	got := environMap([]string{"A=1", "B=", "=C:=x", "noequals", "A=2", "D=x=y"})
	want := map[string]string{"A": "2", "D": "x=y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("environMap = %v, want %v", got, want)
	}
}

// TestEnvEveryKey: the keys that had no override before the overrides were derived from the
// declaration have one now, written as documented.
func TestEnvEveryKey(t *testing.T) {
	c := mustParse(t, nil,
		"RECORDER_ENGINE_CAPTURE_METHOD=x11grab",
		"RECORDER_ENGINE_MAX_FRAME_GAP=3s",
		"RECORDER_ENGINE_ENCODER_OPTIONS=crf=28, preset=fast",
		"RECORDER_UPLOAD_KEEP_UPLOADED=true",
	)
	if c.Engine.CaptureMethod != "x11grab" || c.Engine.MaxFrameGap != Duration(3*time.Second) || !c.Upload.KeepUploaded ||
		!reflect.DeepEqual(c.Engine.EncoderOptions, map[string]string{"crf": "28", "preset": "fast"}) {
		t.Errorf("engine %+v, upload %+v", c.Engine, c.Upload)
	}
	for _, name := range []string{"RECORDER_ENGINE_CAPTURE_METHOD", "RECORDER_ENGINE_MAX_FRAME_GAP",
		"RECORDER_ENGINE_ENCODER_OPTIONS", "RECORDER_UPLOAD_KEEP_UPLOADED", "RECORDER_ADMIN_TOKEN",
		EnvTelemetryEnabled, EnvTelemetryServiceName, EnvAdminToken} {
		if !slices.Contains(EnvNames(), name) {
			t.Errorf("EnvNames lacks %s: %v", name, EnvNames())
		}
	}
	// Every variable of EnvNames sets its key.
	for _, name := range EnvNames() {
		if _, err := Parse("x.yaml", nil, []string{name + "=?"}); err != nil && strings.Contains(err.Error(), "not a configuration variable") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEnvStrict(t *testing.T) {
	for _, tt := range []struct {
		env, want string
		kind      error
	}{
		{"RECORDER_ENGINE_FSP=10", `$RECORDER_ENGINE_FSP: not a configuration variable; did you mean $RECORDER_ENGINE_FPS?`, ErrEnv},
		{"RECORDER_COLOUR=red", `$RECORDER_COLOUR: not a configuration variable (the variables are RECORDER_ and a key's path: RECORDER_ENGINE_FPS for engine.fps)`, ErrEnv},
		{"RECORDER_ENGINE_CAPTURE_METHOD=xcomposite", `$RECORDER_ENGINE_CAPTURE_METHOD: engine.capture_method: "xcomposite" is not one of auto, xshm, x11grab`, ErrBadValue},
		{"RECORDER_ENGINE_MAX_FRAME_GAP=soon", `$RECORDER_ENGINE_MAX_FRAME_GAP: engine.max_frame_gap: "soon" is not a duration: use a number with a unit (ns, us, ms, s, m, h), e.g. "90s" or "1h30m"`, ErrEnv},
		{"RECORDER_ENGINE_ENCODER_OPTIONS=crf", `$RECORDER_ENGINE_ENCODER_OPTIONS: engine.encoder_options: "crf" is not a list of key=value pairs (e.g. "crf=28,preset=fast")`, ErrEnv},
		{"RECORDER_UPLOAD_KEEP_UPLOADED=keep", `$RECORDER_UPLOAD_KEEP_UPLOADED: upload.keep_uploaded: "keep" is not a boolean (true or false)`, ErrEnv},
	} {
		t.Run(tt.env, func(t *testing.T) {
			_, err := Parse("x.yaml", nil, []string{tt.env})
			checkErr(t, err, tt.want, tt.kind)
		})
	}
	// Variables the config names as secret references, and the plugin handshake's, are not
	// overrides.
	c := mustParse(t, doc(
		"uploaders:",
		"  - name: noop",
		"    config: {password: {env: RECORDER_UPLOAD_PASSWORD}}",
	), "RECORDER_UPLOAD_PASSWORD=pw", EnvPluginCookie+"=x")
	if len(c.Uploaders) != 1 {
		t.Error(c.Uploaders)
	}
}
