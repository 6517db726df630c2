package engine

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the FFmpeg threads that log into it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Recordings that join a running capture and stop soon after (their first fragment flushed
// after one frame) leave the muxer no doubt about sample durations: FFmpeg warns of nothing.
// Not parallel: it reads the process-wide log that FFmpeg's messages go to.
func TestShortJoinedRecordingsMuxCleanly(t *testing.T) {
	srv := testDisplay(t)
	var logs syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer slog.SetDefault(old)

	e := newEngine(t, Config{FPS: 15})
	src := Source{Display: srv.Display}
	for i := 0; i < 5; i++ {
		a := start(t, e, StartRequest{Owner: "o", Frontend: "a", Source: src})
		time.Sleep(200 * time.Millisecond)
		b := start(t, e, StartRequest{Owner: "o", Frontend: "b", Source: src})
		time.Sleep(100 * time.Millisecond)
		for _, id := range []string{b.ID, a.ID} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := e.Stop(ctx, id); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
	}
	if out := logs.String(); strings.Contains(out, "component=ffmpeg") {
		t.Errorf("FFmpeg warned while muxing:\n%s", out)
	}
}
