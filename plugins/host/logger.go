package host

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// slogLogger is an hclog.Logger writing to slog, so that go-plugin's own messages and the
// log lines it reads from a plugin's stderr land in the host's structured log.
type slogLogger struct {
	l     *slog.Logger
	name  string
	level hclog.Level
	args  []any
}

var _ hclog.Logger = (*slogLogger)(nil)

func newSlogLogger(l *slog.Logger) *slogLogger { return &slogLogger{l: l, level: hclog.Debug} }

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
	s.l.Log(context.Background(), toSlog(level), msg, renameKey(append(append([]any(nil), s.args...), args...), "plugin", "plugin_path")...)
}

// renameKey renames a key in key/value pairs: go-plugin tags lines with "plugin" = the
// binary's path, and the host's own "plugin" attribute is the plugin's name.
func renameKey(kv []any, from, to string) []any {
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok && k == from {
			kv[i] = to
		}
	}
	return kv
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
