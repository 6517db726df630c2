package config

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/api"

	"github.com/screenrec/recorder/pkg/secret"
)

// Log levels and formats.
var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

var (
	reAdapterName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	reMaskColor   = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// Validate checks every field, returning the first problem as an *Error naming the field by
// its path ("engine.fps", "frontends[1].name", "log.level"). Values are taken as they are: a
// zero FPS is an error here, not a request for the default (Load and Parse fill defaults in
// before validating; Default() validates).
func (c *Config) Validate() error {
	if err := c.validate(); err != nil {
		return c.src.locate(err)
	}
	return nil
}

func (c *Config) validate() *Error {
	if strings.TrimSpace(c.SpoolDir) == "" {
		return valueErr("spool_dir", "required")
	}
	if !oneOf(c.Log.Level, logLevels) {
		return valueErr("log.level", "%q is not one of %s", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if !oneOf(c.Log.Format, logFormats) {
		return valueErr("log.format", "%q is not one of %s", c.Log.Format, strings.Join(logFormats, ", "))
	}
	if err := c.Engine.validate(); err != nil {
		return err
	}
	if err := validateAdapters("frontends", c.Frontends); err != nil {
		return err
	}
	if err := validateAdapters("uploaders", c.Uploaders); err != nil {
		return err
	}
	if err := c.Upload.validate(); err != nil {
		return err
	}
	if err := c.validateTargets(); err != nil {
		return err
	}
	if err := c.Admin.validate(); err != nil {
		return err
	}
	if err := c.Telemetry.validate(); err != nil {
		return err
	}
	if err := c.Controller.validate(); err != nil {
		return err
	}
	return nil
}

func (e *Engine) validate() *Error {
	if e.FPS < MinFPS || e.FPS > MaxFPS {
		return valueErr("engine.fps", "%d is out of range %d-%d", e.FPS, MinFPS, MaxFPS)
	}
	if e.MaxSessions < 1 {
		return valueErr("engine.max_sessions", "%d must be at least 1", e.MaxSessions)
	}
	if e.MaxDuration < 0 {
		return valueErr("engine.max_duration", "%s is negative", e.MaxDuration)
	}
	if e.SegmentDuration < 0 || (e.SegmentDuration > 0 && e.SegmentDuration.Std() < time.Second) {
		return valueErr("engine.segment_duration", "%s must be 0 (one file) or at least 1s", e.SegmentDuration)
	}
	if e.SpoolQuota < 0 {
		return valueErr("engine.spool_quota", "%d is negative", e.SpoolQuota)
	}
	if e.MinFreeDisk < 0 {
		return valueErr("engine.min_free_disk", "%d is negative (0 disables the check)", e.MinFreeDisk)
	}
	if len(e.Encoders) == 0 {
		return valueErr("engine.encoders", "empty: write [auto] or encoder names")
	}
	seen := map[string]bool{}
	for i, n := range e.Encoders {
		path := fmt.Sprintf("engine.encoders[%d]", i)
		switch {
		case n == EncoderAuto && len(e.Encoders) > 1:
			return valueErr(path, "%q stands alone: list encoder names instead", EncoderAuto)
		case n == EncoderAuto:
		case seen[n]:
			return valueErr(path, "%q is listed twice", n)
		case strings.TrimSpace(n) == "":
			return valueErr(path, "empty: write an encoder name")
		}
		seen[n] = true
	}
	for k := range e.EncoderOptions {
		if strings.TrimSpace(k) == "" {
			return valueErr("engine.encoder_options", "an option name is empty")
		}
	}
	if e.MaxWidth < 0 || (e.MaxWidth > 0 && e.MaxWidth < 2) {
		return valueErr("engine.max_width", "%d must be 0 (no limit) or at least 2", e.MaxWidth)
	}
	if e.MaxHeight < 0 || (e.MaxHeight > 0 && e.MaxHeight < 2) {
		return valueErr("engine.max_height", "%d must be 0 (no limit) or at least 2", e.MaxHeight)
	}
	if !reMaskColor.MatchString(e.MaskColor) {
		return valueErr("engine.mask_color", "%q is not a colour written #rrggbb (e.g. \"#000000\")", e.MaskColor)
	}
	if !slices.Contains(api.CaptureMethods(), e.CaptureMethod) {
		return valueErr("engine.capture_method", "%q is not one of %s", e.CaptureMethod, strings.Join(api.CaptureMethods(), ", "))
	}
	if fps := max(e.FPS, 1); e.MaxFrameGap.Std() < time.Second/time.Duration(fps) {
		return valueErr("engine.max_frame_gap", "%s is shorter than a frame interval at %d fps", e.MaxFrameGap.Std(), fps)
	}
	return nil
}

func validateAdapters(section string, list []Adapter) *Error {
	seen := map[string]int{} // the name as written in variables → index
	for i, a := range list {
		path := fmt.Sprintf("%s[%d]", section, i)
		switch {
		case a.Name == "":
			return valueErr(path+".name", "required")
		case !reAdapterName.MatchString(a.Name):
			return valueErr(path+".name", "%q must be lower-case letters, digits, '-' and '_', starting with a letter or digit", a.Name)
		}
		if j, dup := seen[envName(a.Name)]; dup {
			if list[j].Name == a.Name {
				return valueErr(path+".name", "%q is already %s[%d]", a.Name, section, j)
			}
			return valueErr(path+".name", "%q and %s[%d]'s %q are the same name in environment variables", a.Name, section, j, list[j].Name)
		}
		seen[envName(a.Name)] = i
		if err := validateAdapterValue(path+".config", a.Config); err != nil {
			return err
		}
	}
	return nil
}

// validateAdapterValue checks that v can be passed to a plugin as JSON (string keys, finite
// numbers) and that its secret references are well formed.
func validateAdapterValue(path string, v any) *Error {
	if _, ok, err := secret.Parse(v); ok {
		if err != nil {
			return &Error{Path: path, Msg: err.Error(), Kind: ErrSecret}
		}
		return nil
	}
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			if err := validateAdapterValue(joinPath(path, k), t[k]); err != nil {
				return err
			}
		}
	case map[any]any:
		for k := range t {
			return valueErr(joinPath(path, fmt.Sprint(k)), "key %v is not a string (plugin configs are passed as JSON)", k)
		}
	case []any:
		for i, x := range t {
			if err := validateAdapterValue(fmt.Sprintf("%s[%d]", path, i), x); err != nil {
				return err
			}
		}
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return valueErr(path, "%v cannot be passed as JSON", t)
		}
	}
	return nil
}

func (u *Upload) validate() *Error {
	if u.Concurrency < 1 {
		return valueErr("upload.concurrency", "%d must be at least 1", u.Concurrency)
	}
	if u.RetryBaseDelay <= 0 {
		return valueErr("upload.retry_base_delay", "%s must be positive", u.RetryBaseDelay)
	}
	if u.RetryMaxDelay < u.RetryBaseDelay {
		return valueErr("upload.retry_max_delay", "%s is less than upload.retry_base_delay (%s)", u.RetryMaxDelay, u.RetryBaseDelay)
	}
	return nil
}

// validateTargets checks that every upload target names a configured uploader, once.
func (c *Config) validateTargets() *Error {
	seen := map[string]bool{}
	for i, t := range c.Upload.Targets {
		field := fmt.Sprintf("upload.targets[%d]", i)
		if seen[t] {
			return valueErr(field, "%q is listed twice", t)
		}
		seen[t] = true
		found := false
		for _, a := range c.Uploaders {
			found = found || a.Name == t
		}
		if !found {
			return valueErr(field, "%q names no uploader in uploaders", t)
		}
	}
	return nil
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

// SlogLevel returns the level as a slog.Level (info if the level is not valid).
func (l Log) SlogLevel() slog.Level {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return slog.LevelInfo
	}
	return lv
}
