package host

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// slogLogger is an hclog.Logger writing to slog, so that go-plugin's own messages and the
// log lines it reads from a plugin's stderr land in the host's structured log.
//
// A plugin's line reaches it through a logger go-plugin has Named (after the binary) with
// the line's attributes, then "timestamp", the time the plugin logged it. Such a line is
// logged with that time as the record's time and without the attributes that would repeat
// what the host's line says already: the plugin's name (the host's "plugin" attribute, set on
// l, is the one name field), hclog's "@module", and keys slog writes itself (time, level,
// msg), which are kept under a "plugin_" prefix instead.
type slogLogger struct {
	l      *slog.Logger
	plugin string // the plugin's name
	name   string // set by Named: this logger relays a plugin's stderr
	level  hclog.Level
	args   []any
}

var _ hclog.Logger = (*slogLogger)(nil)

// newSlogLogger returns a logger for the plugin named plugin; l carries its "plugin" attribute.
func newSlogLogger(l *slog.Logger, plugin string) *slogLogger {
	return &slogLogger{l: l, plugin: plugin, level: hclog.Debug}
}

func toSlog(level hclog.Level) slog.Level {
	switch {
	case level <= hclog.Debug:
		return slog.LevelDebug
	case level == hclog.Info:
		return slog.LevelInfo
	case level == hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (s *slogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level < s.level && level != hclog.NoLevel {
		return
	}
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	ctx, lv := context.Background(), toSlog(level)
	if !s.l.Enabled(ctx, lv) {
		return
	}
	kv := append(append([]any(nil), s.args...), args...)
	at := time.Now()
	if s.name != "" {
		kv, at = s.relayed(kv, at)
	} else {
		// go-plugin tags its own lines with "plugin" = the binary's path; the host's "plugin"
		// attribute is the plugin's name.
		for i := 0; i+1 < len(kv); i += 2 {
			if k, ok := kv[i].(string); ok && k == "plugin" {
				kv[i] = "plugin_path"
			}
		}
	}
	r := slog.NewRecord(at, lv, msg, 0)
	r.Add(kv...)
	_ = s.l.Handler().Handle(ctx, r)
}

// relayed cleans the attributes of a line relayed from the plugin's stderr (see slogLogger)
// and returns them with the time the plugin logged it (at, if the line does not say).
func (s *slogLogger) relayed(kv []any, at time.Time) ([]any, time.Time) {
	out := kv[:0]
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			out = append(out, kv[i], kv[i+1])
			continue
		}
		v := kv[i+1]
		switch k {
		case "timestamp":
			if ts, ok := v.(string); ok {
				if t, err := time.Parse(hclog.TimeFormat, ts); err == nil {
					at = t
					continue
				}
			}
		case "@module", "plugin":
			continue
		case "frontend", "uploader", "name":
			if v == s.plugin { // the plugin naming itself
				continue
			}
		case slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey:
			k = "plugin_" + k
		}
		out = append(out, k, v)
	}
	return out, at
}
func (s *slogLogger) Trace(msg string, args ...any) { s.Log(hclog.Trace, msg, args...) }
func (s *slogLogger) Debug(msg string, args ...any) { s.Log(hclog.Debug, msg, args...) }
func (s *slogLogger) Info(msg string, args ...any)  { s.Log(hclog.Info, msg, args...) }
func (s *slogLogger) Warn(msg string, args ...any)  { s.Log(hclog.Warn, msg, args...) }
func (s *slogLogger) Error(msg string, args ...any) { s.Log(hclog.Error, msg, args...) }
func (s *slogLogger) IsTrace() bool                 { return s.level <= hclog.Trace }
func (s *slogLogger) IsDebug() bool                 { return s.level <= hclog.Debug }
func (s *slogLogger) IsInfo() bool                  { return s.level <= hclog.Info }
func (s *slogLogger) IsWarn() bool                  { return s.level <= hclog.Warn }
func (s *slogLogger) IsError() bool                 { return s.level <= hclog.Error }
func (s *slogLogger) ImpliedArgs() []any            { return s.args }
func (s *slogLogger) With(args ...any) hclog.Logger {
	c := *s
	c.args = append(append([]any(nil), s.args...), args...)
	return &c
}
func (s *slogLogger) Name() string { return s.name }
func (s *slogLogger) Named(name string) hclog.Logger {
	c := *s
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}
func (s *slogLogger) ResetNamed(name string) hclog.Logger {
	c := *s
	c.name = name
	return &c
}
func (s *slogLogger) SetLevel(level hclog.Level) { s.level = level }
func (s *slogLogger) GetLevel() hclog.Level      { return s.level }
func (s *slogLogger) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return log.New(s.StandardWriter(nil), "", 0)
}
func (s *slogLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(s.write)
}

func (s *slogLogger) write(p []byte) (int, error) {
	s.Info(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
