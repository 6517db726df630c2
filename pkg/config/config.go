// Package config is the recorder's YAML configuration: the schema (Config), strict loading
// (Load, Parse), environment overrides for deployment, validation that names the field at
// fault, and secrets by reference.
//
// Config is declared once, with cfg tags (package decl): strict decoding, the environment
// overrides (env.go) and the hints for unknown keys all derive from the struct. The file is
// parsed with github.com/goccy/go-yaml into a value tree that remembers every key's line.
//
// Loading goes: read → strict decode over Default() (an unknown key or a value of the wrong
// type is an error with its line) → relative spool_dir/plugin_dir resolved against the
// config file's folder → environment overrides (RECORDER_*) → defaults for what was left
// empty → Validate. Every problem is one *Error, rendered on one line:
//
//	configs/x.yaml:7: engine.fpss: unknown key; did you mean "fps"?
//
// A key that is absent (or null) keeps its default; a key that is present is taken as written,
// so "fps: 0" is an error rather than a request for the default.
//
// Adapter configs (Adapter.Config) stay raw: secret references ({env: NAME} or {file: PATH})
// are checked for shape at load but resolved only by an explicit secret.ResolveAll (or
// Config.Resolved), so the host can first check that the fields its plugins mark secret are
// references.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/screenrec/recorder/engine/api"

	"github.com/screenrec/recorder/pkg/config/decl"
	"github.com/screenrec/recorder/pkg/secret"
)

// Defaults: the values of fields a config file leaves out (see Default).
const (
	// DefaultSpoolDir is where the catalog and the recordings are kept.
	DefaultSpoolDir = "/var/spool/recorder"
	// DefaultLogLevel is the least severe level logged.
	DefaultLogLevel = "info"
	// DefaultLogFormat is how log records are written.
	DefaultLogFormat = "text"

	// DefaultFPS is the capture rate, within MinFPS–MaxFPS.
	DefaultFPS = api.DefaultFPS // 10
	// MinFPS and MaxFPS bound engine.fps.
	MinFPS = api.MinFPS // 1
	MaxFPS = api.MaxFPS // 60
	// DefaultMaxSessions caps concurrent sessions.
	DefaultMaxSessions = api.DefaultMaxSessions // 16
	// DefaultSegmentDuration rotates recordings into standalone files this often.
	DefaultSegmentDuration = 10 * time.Minute
	// DefaultMinFreeDisk is the free space the spool's file system must keep.
	DefaultMinFreeDisk = ByteSize(api.DefaultMinFreeDisk) // 256MiB
	// EncoderAuto, alone in engine.encoders, selects the engine's default order (hardware
	// H.264 first, then libx264).
	EncoderAuto = "auto"
	// DefaultDrawMouse paints the pointer into recordings.
	DefaultDrawMouse = true
	// DefaultMaskColor is what masked frames show.
	DefaultMaskColor = "#000000"

	// DefaultUploadConcurrency is how many uploads run at once.
	DefaultUploadConcurrency = 2
	// DefaultRetryBaseDelay is the wait before the first retry of a failed upload; each
	// further retry waits twice as long, up to DefaultRetryMaxDelay.
	DefaultRetryBaseDelay = 5 * time.Second
	// DefaultRetryMaxDelay caps the wait between upload retries.
	DefaultRetryMaxDelay = 10 * time.Minute
	// DefaultUploadTarget names the upload target recordings are queued for when no uploader
	// runs; with one uploader, its jobs go to that uploader too (queues of earlier builds).
	DefaultUploadTarget = api.DefaultUploadTarget // "default"
)

// Config is the recorder's configuration file (configs/recorder.yaml is the one `make run`
// uses). YAML keys are snake_case, declared by the cfg tags.
type Config struct {
	// SpoolDir holds the catalog and the recordings (default DefaultSpoolDir). A relative
	// path in the file is resolved against the config file's folder; one from
	// RECORDER_SPOOL_DIR against the working directory.
	SpoolDir string `cfg:"spool_dir"`
	// Display is the X display to record ("" = $DISPLAY). Env RECORDER_DISPLAY.
	Display string `cfg:"display"`
	// PluginDir is where external recorder-plugin-<name> binaries are found; "" (the
	// default) means no external plugins, only built-in adapters. Relative paths resolve
	// like SpoolDir's. Env RECORDER_PLUGIN_DIR.
	PluginDir string `cfg:"plugin_dir"`
	// Log configures logging.
	Log Log `cfg:"log"`
	// Engine configures capture, encoding and the spool (cmd/recorder maps it onto engine.Config).
	Engine Engine `cfg:"engine"`
	// Frontends are the front ends to run (none by default), each name at most once.
	Frontends []Adapter `cfg:"frontends"`
	// Uploaders are the uploaders to run (none by default), each name at most once.
	Uploaders []Adapter `cfg:"uploaders"`
	// Upload configures the upload queue.
	Upload Upload `cfg:"upload"`
	// Admin configures the admin API (off by default).
	Admin Admin `cfg:"admin"`
	// Telemetry configures traces and metrics (see telemetry.go).
	Telemetry Telemetry `cfg:"telemetry"`
	// Controller configures `recorder controller`, the fleet controller (see controller.go);
	// nil when absent.
	Controller *Controller `cfg:"controller"`

	src *source // where the values came from, for errors after loading (nil for Default)
}

// Log configures logging.
type Log struct {
	// Level is the least severe level logged: debug, info, warn or error (default info).
	// Env RECORDER_LOG_LEVEL.
	Level string `cfg:"level"`
	// Format is text or json (default text). Env RECORDER_LOG_FORMAT.
	Format string `cfg:"format"`
}

// Engine configures the recording engine; the recorder maps it onto engine.Config.
type Engine struct {
	// FPS is the capture rate, MinFPS–MaxFPS (default 10). Env RECORDER_ENGINE_FPS.
	FPS int `cfg:"fps"`
	// MaxSessions caps concurrent sessions, at least 1 (default 16).
	// Env RECORDER_ENGINE_MAX_SESSIONS.
	MaxSessions int `cfg:"max_sessions"`
	// MaxDuration caps every session's length ("0" or absent: no cap).
	MaxDuration Duration `cfg:"max_duration"`
	// SegmentDuration rotates a recording to a new standalone file this often (default 10m;
	// "0": one file; otherwise at least 1s).
	SegmentDuration Duration `cfg:"segment_duration"`
	// SpoolQuota caps the bytes of recordings kept in the spool, e.g. "10GiB" (0: no quota).
	SpoolQuota ByteSize `cfg:"spool_quota"`
	// MinFreeDisk is the free space the spool's file system must keep; a start below it fails
	// (default 256MiB; 0: no check).
	MinFreeDisk ByteSize `cfg:"min_free_disk"`
	// Encoders is the order encoders are tried in: ["auto"] (the default: hardware H.264
	// first, then libx264) or FFmpeg encoder names such as libx264, h264_vaapi.
	Encoders []string `cfg:"encoders"`
	// EncoderOptions override the chosen encoder's private options (e.g. crf: "28").
	EncoderOptions map[string]string `cfg:"encoder_options"`
	// MaxWidth and MaxHeight downscale each track to fit, keeping its aspect (0: no limit;
	// otherwise at least 2).
	MaxWidth  int `cfg:"max_width"`
	MaxHeight int `cfg:"max_height"`
	// DrawMouse paints the pointer into recordings (default true).
	DrawMouse *bool `cfg:"draw_mouse"`
	// MaskColor is what masked frames show, as "#rrggbb" (default "#000000").
	MaskColor string `cfg:"mask_color"`
	// CaptureMethod is how screens are grabbed: auto (the default: xshm where the display
	// allows it, else x11grab), xshm (the engine's change-tracking grab: a still screen costs
	// almost nothing) or x11grab (FFmpeg's device, every frame grabbed whole).
	CaptureMethod string `cfg:"capture_method"`
	// MaxFrameGap bounds how long a still screen goes without an encoded frame with xshm
	// (default 10s, at least one frame interval).
	MaxFrameGap Duration `cfg:"max_frame_gap"`
}

// Adapter is one front end or uploader.
type Adapter struct {
	// Name is the built-in adapter's name or the external plugin's (found as
	// recorder-plugin-<name> in plugin_dir). Required; lower-case letters, digits, '-' and
	// '_'; unique within its list.
	Name string `cfg:"name"`
	// InProcess runs a built-in adapter inside the recorder's process; false (the default)
	// runs it as a plugin process.
	InProcess bool `cfg:"in_process"`
	// Config is the adapter's own section, passed to it as JSON and validated by it. Values
	// may be secret references ({env: NAME} or {file: PATH}), which secret.ResolveAll replaces;
	// a relative file reference is resolved against the config file's folder at load.
	Config map[string]any `cfg:"config"`
}

// Upload configures the upload queue.
type Upload struct {
	// Concurrency is how many uploads run at once, at least 1 (default 2).
	Concurrency int `cfg:"concurrency"`
	// RetryBaseDelay is the wait before the first retry of a failed upload (default 5s).
	RetryBaseDelay Duration `cfg:"retry_base_delay"`
	// RetryMaxDelay caps the doubling wait between retries, at least RetryBaseDelay
	// (default 10m).
	RetryMaxDelay Duration `cfg:"retry_max_delay"`
	// Targets names the uploaders ended recordings are queued for: one job per segment and
	// target, each delivered once; a segment's local file goes when every target confirmed
	// it. Empty (the default): every uploader that runs.
	Targets []string `cfg:"targets"`
	// KeepUploaded keeps a segment's local file after the server confirmed it; by default it
	// is deleted then (never before).
	KeepUploaded bool `cfg:"keep_uploaded"`
}

// UploadTargets returns the targets ended recordings are queued for: upload.targets when
// set, else running (the names of the uploaders that run), else [DefaultUploadTarget].
func (c *Config) UploadTargets(running []string) []string {
	switch {
	case len(c.Upload.Targets) > 0:
		return slices.Clone(c.Upload.Targets)
	case len(running) > 0:
		return slices.Clone(running)
	}
	return []string{DefaultUploadTarget}
}

// UploaderNames returns the names of the configured uploaders, in order.
func (c *Config) UploaderNames() []string {
	var out []string
	for _, a := range c.Uploaders {
		out = append(out, a.Name)
	}
	return out
}

// Default returns a configuration with every default and no adapters. It validates.
func Default() *Config {
	drawMouse := DefaultDrawMouse
	return &Config{
		SpoolDir: DefaultSpoolDir,
		Log:      Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Engine: Engine{
			FPS:             DefaultFPS,
			MaxSessions:     DefaultMaxSessions,
			SegmentDuration: Duration(DefaultSegmentDuration),
			MinFreeDisk:     DefaultMinFreeDisk,
			Encoders:        []string{EncoderAuto},
			DrawMouse:       &drawMouse,
			MaskColor:       DefaultMaskColor,
			CaptureMethod:   api.CaptureAuto,
			MaxFrameGap:     Duration(api.DefaultMaxFrameGap),
		},
		Upload: Upload{
			Concurrency:    DefaultUploadConcurrency,
			RetryBaseDelay: Duration(DefaultRetryBaseDelay),
			RetryMaxDelay:  Duration(DefaultRetryMaxDelay),
		},
		Admin:     Admin{Listen: DefaultAdminListen},
		Telemetry: defaultTelemetry(),
	}
}

// Load reads the config file at path and parses it with the process environment (see
// Parse). Relative paths in it are resolved against the file's folder, made absolute.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, base, data, os.Environ())
}

// Parse is Load on bytes: name is the file name errors cite (and whose folder relative paths
// are resolved against), environ the environment in os.Environ's "KEY=value" form (a list
// rather than a lookup function, because RECORDER_FRONTENDS_<NAME>_<KEY> overrides are found
// by listing it). It strictly decodes data over Default(), applies the environment
// overrides, fills in defaults for what was left empty and validates.
func Parse(name string, data []byte, environ []string) (*Config, error) {
	return parse(name, filepath.Dir(name), data, environ)
}

func parse(name, base string, data []byte, environ []string) (*Config, error) {
	src := &source{file: name}
	fail := func(e *Error) (*Config, error) {
		return nil, src.locate(e)
	}

	tree, rootLine, e := src.read(data)
	if e != nil {
		return fail(e)
	}
	c := Default()
	if probs := decl.Decode(tree, c, decl.Options{}); len(probs) > 0 {
		return fail(src.problemsErr(probs, rootLine))
	}
	c.src = src

	c.SpoolDir = resolvePath(base, c.SpoolDir)
	c.PluginDir = resolvePath(base, c.PluginDir)
	resolveSecretFiles(base, c.Frontends)
	resolveSecretFiles(base, c.Uploaders)
	c.Admin.resolvePaths(base)
	c.Controller.resolvePaths(base)

	if err := applyEnv(c, environ, src); err != nil {
		return fail(err)
	}
	c.fillDefaults()
	if err := c.validate(); err != nil {
		return fail(err)
	}
	return c, nil
}

// fillDefaults fills in what a file can leave empty without meaning something else: a null
// draw_mouse, an empty or null encoders list. (Absent keys keep Default()'s values.)
func (c *Config) fillDefaults() {
	if c.Engine.DrawMouse == nil {
		v := DefaultDrawMouse
		c.Engine.DrawMouse = &v
	}
	if len(c.Engine.Encoders) == 0 {
		c.Engine.Encoders = []string{EncoderAuto}
	}
	if ct := c.Controller; ct != nil {
		if ct.NATS.Listen == "" {
			ct.NATS.Listen = DefaultControllerNATSListen
		}
		if ct.DataDir == "" {
			ct.DataDir = DefaultControllerDataDir
		}
		if ct.Replicas == 0 {
			ct.Replicas = 1
		}
	}
}

// resolvePath makes a relative path from the file relative to the file's folder.
func resolvePath(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// resolveSecretFiles makes relative {file: PATH} references relative to the file's folder.
func resolveSecretFiles(base string, adapters []Adapter) {
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if s, ok, err := secret.Parse(t); ok && err == nil {
				if s.File != "" {
					t["file"] = resolvePath(base, s.File)
				}
				return
			}
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	for _, a := range adapters {
		walk(a.Config)
	}
}

// Where returns where the field at path was written, as "file:line" (or the file name alone
// when the field is not in the file, "" for a config from Default), so callers can point at
// the config for problems they find later, e.g. a plugin rejecting frontends[0].config.listen.
func (c *Config) Where(path string) string {
	if c.src == nil {
		return ""
	}
	e := c.src.locate(&Error{Path: path})
	e.Path = ""
	return e.Error()
}

// FieldError reports a bad value at path found by a caller's own rules (the engine's, say),
// as an *Error (ErrBadValue) located like the ones Validate returns.
func (c *Config) FieldError(path string, problem error) error {
	return c.src.locate(&Error{Path: path, Msg: problem.Error(), Kind: ErrBadValue})
}
