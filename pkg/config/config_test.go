package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// doc joins lines into a YAML document, so a test's line numbers are its indexes + 1.
func doc(lines ...string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

// mustParse parses data as x.yaml with environ, failing the test on error.
func mustParse(t *testing.T, data []byte, environ ...string) *Config {
	t.Helper()
	c, err := Parse("x.yaml", data, environ)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// checkErr asserts err is one line reading want exactly and matching kind and ErrInvalid.
func checkErr(t *testing.T, err error, want string, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	got := err.Error()
	if strings.ContainsAny(got, "\r\n") {
		t.Errorf("error is not one line: %q", got)
	}
	if got != want {
		t.Errorf("error\n got %q\nwant %q", got, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("errors.Is(%v, %v) = false", err, kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error %T is not an *Error", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
		kind error
	}{
		// Unknown keys, with their line and full path.
		{"unknown top-level key", doc(
			"spool_dir: /tmp/s",
			"spool_dirr: /tmp/t",
		), `x.yaml:2: spool_dirr: unknown key; did you mean "spool_dir"?`, ErrUnknownKey},
		{"unknown top-level key, no near match", doc(
			"colour: red",
		), `x.yaml:1: colour: unknown key (valid keys: spool_dir, display, plugin_dir, log, engine, frontends, uploaders, upload, admin, telemetry, controller)`, ErrUnknownKey},
		{"unknown nested key", doc(
			"engine:",
			"  fps: 10",
			"  fpss: 12",
		), `x.yaml:3: engine.fpss: unknown key; did you mean "fps"?`, ErrUnknownKey},
		{"unknown key in adapter entry", doc(
			"frontends:",
			"  - nmae: probe",
		), `x.yaml:2: frontends[0].nmae: unknown key; did you mean "name"?`, ErrUnknownKey},
		{"unknown key in second adapter entry", doc(
			"uploaders:",
			"  - name: noop",
			"  - name: other",
			"    inprocess: true",
		), `x.yaml:4: uploaders[1].inprocess: unknown key; did you mean "in_process"?`, ErrUnknownKey},
		{"unknown key in flow mapping", doc(
			"log: {level: info, fromat: json}",
		), `x.yaml:1: log.fromat: unknown key; did you mean "format"?`, ErrUnknownKey},
		{"several problems: the first, counted", doc(
			"engine:",
			"  fpss: 1",
			"  max_sesions: 2",
		), `x.yaml:2: engine.fpss: unknown key; did you mean "fps"? (and 1 more problem)`, ErrUnknownKey},

		// Wrong types.
		{"string for int", doc(
			"engine:",
			`  fps: "ten"`,
		), `x.yaml:2: engine.fps: expected an integer, got a string "ten"`, ErrWrongType},
		{"long string for int is quoted in full", doc(
			"engine:",
			"  max_sessions: sixteen-thousand",
		), `x.yaml:2: engine.max_sessions: expected an integer, got a string "sixteen-thousand"`, ErrWrongType},
		{"mapping for list", doc(
			"frontends: {}",
		), `x.yaml:1: frontends: expected a list, got a mapping`, ErrWrongType},
		{"list for mapping", doc(
			"engine: [10]",
		), `x.yaml:1: engine: expected a mapping, got a list`, ErrWrongType},
		{"scalar for adapter entry", doc(
			"uploaders:",
			"  - noop",
		), `x.yaml:2: uploaders[0]: expected a mapping, got a string "noop"`, ErrWrongType},
		{"string for bool", doc(
			"frontends:",
			"  - name: probe",
			"    in_process: maybe",
		), `x.yaml:3: frontends[0].in_process: expected true or false, got a string "maybe"`, ErrWrongType},
		{"list for adapter config", doc(
			"frontends:",
			"  - name: probe",
			"    config: [listen]",
		), `x.yaml:3: frontends[0].config: expected a mapping, got a list`, ErrWrongType},
		{"document not a mapping", doc(
			"hello",
		), `x.yaml:1: expected a mapping, got a string "hello"`, ErrWrongType},
		{"list for duration", doc(
			"engine:",
			"  max_duration: [1]",
		), `x.yaml:2: engine.max_duration: expected a duration string such as "10m", got a list`, ErrWrongType},

		// Syntax.
		{"syntax error", doc(
			"engine:",
			"  fps: 10",
			" max_sessions: [",
		), `x.yaml:3: value is not allowed in this context`, ErrSyntax},
		{"duplicate key", doc(
			"engine:",
			"  fps: 10",
			"  fps: 12",
		), `x.yaml:3: engine.fps: duplicate key (first at line 2)`, ErrSyntax},
		{"syntax error in flow list", doc(
			"engine:",
			"  encoders: [auto",
			"display: x",
		), `x.yaml:3: ',' or ']' must be specified`, ErrSyntax},
		{"mapping value in plain scalar", doc(
			"display: a: b",
		), `x.yaml:1: mapping value is not allowed in this context`, ErrSyntax},
		{"control character", doc(
			"display: ':1'",
			"spool_dir: a\x01b",
		), `x.yaml:2: control characters are not allowed`, ErrSyntax},
		{"bad UTF-8", doc(
			"display: ':1'",
			"",
			"spool_dir: a\xffb",
		), `x.yaml:3: invalid UTF-8`, ErrSyntax},
		{"two documents", doc(
			"display: ':1'",
			"---",
			"display: ':2'",
		), `x.yaml:2: a second YAML document starts here; a config file holds one`, ErrSyntax},

		// Missing required values.
		{"adapter name missing", doc(
			"frontends:",
			"  - name: probe",
			"  - in_process: true",
		), `x.yaml:3: frontends[1].name: required`, ErrBadValue},
		{"adapter name empty", doc(
			"uploaders:",
			`  - name: ""`,
		), `x.yaml:2: uploaders[0].name: required`, ErrBadValue},
		{"spool_dir empty", doc(
			`spool_dir: ""`,
		), `x.yaml:1: spool_dir: required`, ErrBadValue},

		// Bad values.
		{"fps 0", doc(
			"engine:",
			"  fps: 0",
		), `x.yaml:2: engine.fps: 0 is out of range 1-60`, ErrBadValue},
		{"fps 61", doc(
			"engine:",
			"  fps: 61",
		), `x.yaml:2: engine.fps: 61 is out of range 1-60`, ErrBadValue},
		{"max_sessions 0", doc(
			"engine:",
			"  max_sessions: 0",
		), `x.yaml:2: engine.max_sessions: 0 must be at least 1`, ErrBadValue},
		{"log level", doc(
			"log:",
			"  level: loud",
		), `x.yaml:2: log.level: "loud" is not one of debug, info, warn, error`, ErrBadValue},
		{"log format", doc(
			"log:",
			"  format: xml",
		), `x.yaml:2: log.format: "xml" is not one of text, json`, ErrBadValue},
		{"bad duration", doc(
			"engine:",
			"  segment_duration: 10 minutes",
		), `x.yaml:2: engine.segment_duration: "10 minutes" is not a duration: use a number with a unit (ns, us, ms, s, m, h), e.g. "90s" or "1h30m"`, ErrBadValue},
		{"duration without unit", doc(
			"engine:",
			"  max_duration: 600",
		), `x.yaml:2: engine.max_duration: 600 is not a duration: write it with a unit, e.g. "600s" or "10m"`, ErrBadValue},
		{"negative duration", doc(
			"engine:",
			"  max_duration: -1m",
		), `x.yaml:2: engine.max_duration: -1m0s is negative`, ErrBadValue},
		{"segment under a second", doc(
			"engine:",
			"  segment_duration: 500ms",
		), `x.yaml:2: engine.segment_duration: 500ms must be 0 (one file) or at least 1s`, ErrBadValue},
		{"bad byte size", doc(
			"engine:",
			"  spool_quota: 12 parsecs",
		), `x.yaml:2: engine.spool_quota: "12 parsecs" is not a byte size: unknown unit "parsecs" (use B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB)`, ErrBadValue},
		{"negative byte size", doc(
			"engine:",
			"  min_free_disk: -1",
		), `x.yaml:2: engine.min_free_disk: "-1" is not a byte size: it is negative`, ErrBadValue},
		{"mask colour name", doc(
			"engine:",
			"  mask_color: red",
		), `x.yaml:2: engine.mask_color: "red" is not a colour written #rrggbb (e.g. "#000000")`, ErrBadValue},
		{"mask colour short", doc(
			"engine:",
			`  mask_color: "#fff"`,
		), `x.yaml:2: engine.mask_color: "#fff" is not a colour written #rrggbb (e.g. "#000000")`, ErrBadValue},
		{"bad capture method", doc("engine:",
			"  capture_method: xcomposite",
		), `x.yaml:2: engine.capture_method: "xcomposite" is not one of auto, xshm, x11grab`, ErrBadValue},
		{"frame gap under a frame", doc("engine:",
			"  fps: 10",
			"  max_frame_gap: 50ms",
		), `x.yaml:3: engine.max_frame_gap: 50ms is shorter than a frame interval at 10 fps`, ErrBadValue},
		{"auto not alone", doc(
			"engine:",
			"  encoders: [auto, libx264]",
		), `x.yaml:2: engine.encoders[0]: "auto" stands alone: list encoder names instead`, ErrBadValue},
		{"max width 1", doc(
			"engine:",
			"  max_width: 1",
		), `x.yaml:2: engine.max_width: 1 must be 0 (no limit) or at least 2`, ErrBadValue},
		{"duplicate front end", doc(
			"frontends:",
			"  - name: probe",
			"  - name: srs",
			"  - name: probe",
		), `x.yaml:4: frontends[2].name: "probe" is already frontends[0]`, ErrBadValue},
		{"duplicate uploader", doc(
			"uploaders:",
			"  - name: noop",
			"  - name: noop",
		), `x.yaml:3: uploaders[1].name: "noop" is already uploaders[0]`, ErrBadValue},
		{"names equal in variables", doc(
			"uploaders:",
			"  - name: my-up",
			"  - name: my_up",
		), `x.yaml:3: uploaders[1].name: "my_up" and uploaders[0]'s "my-up" are the same name in environment variables`, ErrBadValue},
		{"bad adapter name", doc(
			"frontends:",
			"  - name: Probe",
		), `x.yaml:2: frontends[0].name: "Probe" must be lower-case letters, digits, '-' and '_', starting with a letter or digit`, ErrBadValue},
		{"upload concurrency", doc(
			"upload:",
			"  concurrency: 0",
		), `x.yaml:2: upload.concurrency: 0 must be at least 1`, ErrBadValue},
		{"upload max delay under base, default not in file: the section's line", doc(
			"spool_dir: /tmp/s",
			"upload:",
			"  retry_base_delay: 20m",
		), `x.yaml:2: upload.retry_max_delay: 10m0s is less than upload.retry_base_delay (20m0s)`, ErrBadValue},
		{"malformed secret reference", doc(
			"uploaders:",
			"  - name: noop",
			"    config:",
			"      password: {env: A, file: /b}",
		), `x.yaml:4: uploaders[0].config.password: a secret reference takes env or file, not both`, ErrSecret},
		{"secret reference with empty name", doc(
			"uploaders:",
			"  - name: noop",
			"    config:",
			"      auth:",
			`        - token: {env: ""}`,
		), `x.yaml:5: uploaders[0].config.auth[0].token: a secret reference's env must be a variable name`, ErrSecret},
		{"non-string key in adapter config", doc(
			"uploaders:",
			"  - name: noop",
			"    config:",
			"      nested:",
			"        1: one",
		), `x.yaml:5: uploaders[0].config.nested.1: key 1 is not a string (plugin configs are passed as JSON)`, ErrBadValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", tt.data, nil)
			checkErr(t, err, tt.want, tt.kind)
		})
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("# nothing\n"), doc("engine:", "log:")} {
		c := mustParse(t, data)
		want := Default()
		want.src = c.src
		if !reflect.DeepEqual(c, want) {
			t.Errorf("Parse(%q) = %+v, want the defaults %+v", data, c, want)
		}
	}
}

func TestParseTrailingDocumentSeparator(t *testing.T) {
	c := mustParse(t, doc("display: ':1'", "---"))
	if c.Display != ":1" {
		t.Errorf("display = %q", c.Display)
	}
}

func TestParseKeepsWhatIsWritten(t *testing.T) {
	c := mustParse(t, doc(
		"spool_dir: /srv/spool",
		"display: ':1'",
		"plugin_dir: /usr/lib/recorder",
		"log: {level: debug, format: json}",
		"engine:",
		"  fps: 15",
		"  max_sessions: 3",
		"  max_duration: 2h",
		"  segment_duration: 0",
		"  spool_quota: 10GiB",
		"  min_free_disk: 0",
		"  encoders: [h264_vaapi, libx264]",
		"  encoder_options: {crf: '28'}",
		"  max_width: 1920",
		"  max_height: 1080",
		"  draw_mouse: false",
		"  mask_color: '#102030'",
		"  capture_method: x11grab",
		"  max_frame_gap: 2s",
		"frontends:",
		"  - name: probe",
		"    in_process: true",
		"    config: {listen: '127.0.0.1:9000'}",
		"uploaders:",
		"  - name: noop",
		"upload:",
		"  concurrency: 4",
		"  retry_base_delay: 2s",
		"  retry_max_delay: 1m",
		"  targets: [noop]",
		"admin: {enabled: true, listen: '0.0.0.0:9464', token: {env: ADMIN_TOKEN}}",
		"telemetry:",
		"  enabled: false",
		"  service_name: rec-7",
		"  metrics: false",
		"  traces: false",
	))
	f := false
	want := Config{
		SpoolDir: "/srv/spool", Display: ":1", PluginDir: "/usr/lib/recorder",
		Log: Log{Level: "debug", Format: "json"},
		Engine: Engine{FPS: 15, MaxSessions: 3, MaxDuration: Duration(2 * time.Hour), SegmentDuration: 0,
			SpoolQuota: 10 * GiB, MinFreeDisk: 0, Encoders: []string{"h264_vaapi", "libx264"},
			EncoderOptions: map[string]string{"crf": "28"}, MaxWidth: 1920, MaxHeight: 1080,
			DrawMouse: &f, MaskColor: "#102030", CaptureMethod: "x11grab", MaxFrameGap: Duration(2 * time.Second)},
		Frontends: []Adapter{{Name: "probe", InProcess: true, Config: map[string]any{"listen": "127.0.0.1:9000"}}},
		Uploaders: []Adapter{{Name: "noop"}},
		Upload:    Upload{Concurrency: 4, RetryBaseDelay: Duration(2 * time.Second), RetryMaxDelay: Duration(time.Minute), Targets: []string{"noop"}},
		Admin:     Admin{Enabled: true, Listen: "0.0.0.0:9464", Token: map[string]any{"env": "ADMIN_TOKEN"}},
		Telemetry: Telemetry{ServiceName: "rec-7"},
	}
	got := *c
	got.src = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseNullsKeepDefaults(t *testing.T) {
	c := mustParse(t, doc(
		"engine:",
		"  fps:",
		"  encoders:",
		"  draw_mouse:",
		"  segment_duration:",
	))
	if c.Engine.FPS != DefaultFPS || !reflect.DeepEqual(c.Engine.Encoders, []string{EncoderAuto}) ||
		c.Engine.DrawMouse == nil || !*c.Engine.DrawMouse || c.Engine.SegmentDuration.Std() != DefaultSegmentDuration {
		t.Errorf("nulls did not keep the defaults: %+v", c.Engine)
	}
}

func TestDefaultValidates(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if len(c.Frontends) != 0 || len(c.Uploaders) != 0 {
		t.Errorf("Default has adapters: %v %v", c.Frontends, c.Uploaders)
	}
	// Default values match the documented ones.
	if c.SpoolDir != "/var/spool/recorder" || c.Engine.FPS != 10 || c.Engine.MaxSessions != 16 ||
		c.Engine.SegmentDuration.Std() != 10*time.Minute || c.Engine.MinFreeDisk != 256*MiB ||
		c.Upload.Concurrency != 2 || c.Upload.RetryBaseDelay.Std() != 5*time.Second ||
		c.Upload.RetryMaxDelay.Std() != 10*time.Minute || c.Upload.Targets != nil ||
		c.Log != (Log{Level: "info", Format: "text"}) || c.Engine.MaskColor != "#000000" || !*c.Engine.DrawMouse ||
		c.Telemetry != (Telemetry{Enabled: true, ServiceName: "recorder", Metrics: true, Traces: true}) {
		t.Errorf("Default() = %+v", c)
	}
	// Each call returns its own pointers: changing one does not change the next.
	*c.Engine.DrawMouse = false
	if !*Default().Engine.DrawMouse {
		t.Error("Default() shares its DrawMouse pointer")
	}
}

func TestValidateWithoutFile(t *testing.T) {
	c := Default()
	c.Frontends = []Adapter{{Name: "probe"}, {}}
	checkErr(t, c.Validate(), "frontends[1].name: required", ErrBadValue)
	c = Default()
	c.Engine.FPS = 0
	checkErr(t, c.Validate(), "engine.fps: 0 is out of range 1-60", ErrBadValue)
}

func TestRelativePaths(t *testing.T) {
	c, err := Parse(filepath.Join("etc", "recorder", "x.yaml"), doc(
		"spool_dir: ./spool",
		"plugin_dir: ../plugins",
		"uploaders:",
		"  - name: noop",
		"    config:",
		"      token: {file: secrets/token}",
		"      abs: {file: /run/secret}",
	), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("etc", "recorder", "spool"); c.SpoolDir != want {
		t.Errorf("spool_dir = %q, want %q", c.SpoolDir, want)
	}
	if want := filepath.Join("etc", "plugins"); c.PluginDir != want {
		t.Errorf("plugin_dir = %q, want %q", c.PluginDir, want)
	}
	cfg := c.Uploaders[0].Config
	if got, want := cfg["token"], map[string]any{"file": filepath.Join("etc", "recorder", "secrets", "token")}; !reflect.DeepEqual(got, want) {
		t.Errorf("token = %v, want %v", got, want)
	}
	if got, want := cfg["abs"], map[string]any{"file": "/run/secret"}; !reflect.DeepEqual(got, want) {
		t.Errorf("abs = %v, want %v", got, want)
	}

	// Absolute paths stay; environment paths are not the file's.
	c = mustParse(t, doc("spool_dir: /abs/spool"), "RECORDER_PLUGIN_DIR=rel/plugins")
	if c.SpoolDir != "/abs/spool" || c.PluginDir != "rel/plugins" {
		t.Errorf("spool_dir, plugin_dir = %q, %q", c.SpoolDir, c.PluginDir)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "r.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, doc("spool_dir: spool", "engine:", "  fps: 12"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RECORDER_ENGINE_MAX_SESSIONS", "5")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "sub", "spool"); c.SpoolDir != want || !filepath.IsAbs(c.SpoolDir) {
		t.Errorf("spool_dir = %q, want %q", c.SpoolDir, want)
	}
	if c.Engine.FPS != 12 || c.Engine.MaxSessions != 5 {
		t.Errorf("fps, max_sessions = %d, %d; want 12, 5", c.Engine.FPS, c.Engine.MaxSessions)
	}

	// The file's name, as given, is in errors.
	if err := os.WriteFile(path, doc("engine:", "  fpss: 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	checkErr(t, err, path+`:2: engine.fpss: unknown key; did you mean "fps"?`, ErrUnknownKey)

	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestWhere(t *testing.T) {
	c := mustParse(t, doc(
		"frontends:",
		"  - name: probe",
		"    config:",
		"      listen: 'x'",
	), "RECORDER_FRONTENDS_PROBE_PORT=1")
	for path, want := range map[string]string{
		"frontends[0].config.listen": "x.yaml:4",
		"frontends[0].config.other":  "x.yaml:3",
		"frontends[0].config.port":   "$RECORDER_FRONTENDS_PROBE_PORT",
		"engine.fps":                 "x.yaml",
	} {
		if got := c.Where(path); got != want {
			t.Errorf("Where(%q) = %q, want %q", path, got, want)
		}
	}
	if got := Default().Where("engine.fps"); got != "" {
		t.Errorf("Default().Where = %q, want empty", got)
	}
}

func TestByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ByteSize
	}{
		{"0", 0}, {"1000000", 1000000}, {"512MiB", 512 << 20}, {"10GiB", 10 << 30}, {"10GB", 10e9},
		{"10 GiB", 10 << 30}, {"1.5GiB", 3 << 29}, {"2kb", 2000}, {"7B", 7}, {"1KiB", 1024}, {"3TB", 3e12},
		{" 256mib ", 256 << 20}, {"2m", 2 << 20}, {"4K", 4096},
	} {
		got, err := ParseByteSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"12 parsecs", `"12 parsecs" is not a byte size: unknown unit "parsecs" (use B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB)`},
		{"", `"" is not a byte size: write a number of bytes or a number with a unit, e.g. "512MiB" or "10GB"`},
		{"GiB", `"GiB" is not a byte size: write a number of bytes or a number with a unit, e.g. "512MiB" or "10GB"`},
		{"-5MiB", `"-5MiB" is not a byte size: it is negative`},
		{"1.5", `"1.5" is not a byte size: a number of bytes must be whole`},
		{"1..5GiB", `"1..5GiB" is not a byte size: malformed number`},
		{"99999999999PiB", `"99999999999PiB" is not a byte size: too large`},
	} {
		_, err := ParseByteSize(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseByteSize(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
	for b, want := range map[ByteSize]string{0: "0", 256 * MiB: "256MiB", 10 * GiB: "10GiB", 10e9: "10GB", 1000001: "1000001", 1536: "1536", 3 * KiB: "3KiB", 2e6: "2MB"} {
		if got := b.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(b), got, want)
		}
	}
}

func TestValidateListen(t *testing.T) {
	for _, ok := range []string{"localhost:80", "127.0.0.1:0", ":8080", "[::1]:9000", "0.0.0.0:65535", "my-host.example.com:443", "[fe80::1%eth0]:80"} {
		if err := ValidateListen(ok); err != nil {
			t.Errorf("ValidateListen(%q) = %v", ok, err)
		}
	}
	for addr, want := range map[string]string{
		"127.0.0.1":       `bad listen address "127.0.0.1": missing port in address: write host:port, e.g. "127.0.0.1:8080"`,
		"1.2.3.4:99999":   `bad listen address "1.2.3.4:99999": port 99999 is out of range 0-65535`,
		"":                `bad listen address "": empty: write host:port, e.g. "127.0.0.1:8080"`,
		"localhost:http":  `bad listen address "localhost:http": port "http" is not a number`,
		"localhost:":      `bad listen address "localhost:": missing port after ':'`,
		"under_score:80":  `bad listen address "under_score:80": host "under_score" is not an IP address or a host name`,
		"1.2.3.999:80":    `bad listen address "1.2.3.999:80": host "1.2.3.999" is not an IP address or a host name`,
		"[localhost]:80":  `bad listen address "[localhost]:80": "localhost" in brackets is not an IPv6 address`,
		"::1:80":          `bad listen address "::1:80": too many colons in address: write host:port, e.g. "127.0.0.1:8080"`,
		"-bad.example:80": `bad listen address "-bad.example:80": host "-bad.example" is not an IP address or a host name`,
	} {
		err := ValidateListen(addr)
		if err == nil || err.Error() != want {
			t.Errorf("ValidateListen(%q) = %v, want %q", addr, err, want)
		}
		if !errors.Is(err, ErrBadListen) {
			t.Errorf("ValidateListen(%q) does not wrap ErrBadListen", addr)
		}
	}
}
