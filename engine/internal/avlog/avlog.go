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

// collector gathers error messages of one object, or of any object when of is nil.
type collector struct {
	of   astiav.Classer
	msgs []string
}

var (
	once       sync.Once
	mu         sync.Mutex
	collectors = map[*collector]bool{}
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
	if l <= astiav.LogLevelError {
		taken := false
		mu.Lock()
		for col := range collectors {
			if col.of == nil || (c != nil && col.of == c) {
				col.msgs = append(col.msgs, msg)
				// A catch-all collector may see other goroutines' messages; keep logging them.
				taken = taken || col.of != nil
			}
		}
		mu.Unlock()
		if taken {
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

// Collect starts collecting the error messages FFmpeg logs for c, or for any object when c is
// nil (for calls that log through objects we never see, such as device contexts). The returned
// function stops collecting and returns them joined with "; ".
func Collect(c astiav.Classer) func() string {
	Ensure()
	col := &collector{of: c}
	mu.Lock()
	collectors[col] = true
	mu.Unlock()
	return func() string {
		mu.Lock()
		delete(collectors, col)
		mu.Unlock()
		return strings.Join(col.msgs, "; ")
	}
}
