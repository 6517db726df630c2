// Package avlog routes FFmpeg's log into log/slog and lets a caller collect the error messages
// FFmpeg logs for one object, so that "cannot open" errors can say why.
package avlog

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/asticode/go-astiav"
)

var (
	once       sync.Once
	mu         sync.Mutex
	collectors = map[astiav.Classer]*[]string{}
)

// Ensure installs the bridge once: FFmpeg messages of warning level and above go to
// slog.Default() (tagged component=ffmpeg) instead of the process's stderr.
func Ensure() {
	once.Do(func() {
		astiav.SetLogLevel(astiav.LogLevelWarning)
		astiav.SetLogCallback(forward)
	})
}

func forward(c astiav.Classer, l astiav.LogLevel, _, msg string) {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return
	}
	if c != nil && l <= astiav.LogLevelError {
		mu.Lock()
		buf, ok := collectors[c]
		if ok {
			*buf = append(*buf, msg)
		}
		mu.Unlock()
		if ok {
			return // the caller reports it in its error
		}
	}
	level := slog.LevelDebug
	switch {
	case l <= astiav.LogLevelError:
		level = slog.LevelError
	case l <= astiav.LogLevelWarning:
		level = slog.LevelWarn
	case l <= astiav.LogLevelInfo:
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("component", "ffmpeg")}
	if c != nil {
		if cl := c.Class(); cl != nil {
			attrs = append(attrs, slog.String("class", cl.Name()))
		}
	}
	slog.Default().LogAttrs(context.Background(), level, msg, attrs...)
}

// Collect starts collecting the error messages FFmpeg logs for c. The returned function stops
// collecting and returns them joined with "; ".
func Collect(c astiav.Classer) func() string {
	Ensure()
	buf := new([]string)
	mu.Lock()
	collectors[c] = buf
	mu.Unlock()
	return func() string {
		mu.Lock()
		delete(collectors, c)
		mu.Unlock()
		return strings.Join(*buf, "; ")
	}
}
