package pipeline

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

// paintedDisplay starts a test display and fills monitor with bg; it returns the display, a
// painter on it (closed on cleanup) and the monitor's bounds.
func paintedDisplay(t *testing.T, monitor int, bg color.RGBA) (*xvfb.Server, *xscene.Painter, image.Rectangle) {
	t.Helper()
	srv := startDisplay(t)
	p, err := xscene.Connect(srv.Display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	m := srv.Monitors[monitor].Bounds()
	if err := p.Fill(m, bg); err != nil {
		t.Fatal(err)
	}
	return srv, p, m
}

func startDisplay(t *testing.T) *xvfb.Server {
	t.Helper()
	mediatest.SkipIfUnavailable(t)
	return xvfb.StartForTest(t, xvfb.ThreeMonitors)
}

// Tracks run in their own goroutines while Stats is polled and Stop comes from elsewhere:
// the race detector watches all of it.
func TestTracksStopWhilePolled(t *testing.T) {
	t.Parallel()
	srv := startDisplay(t)
	out := filepath.Join(t.TempDir(), "tracks.mp4")
	rec, err := Start(context.Background(), Spec{CaptureSpec: CaptureSpec{Display: srv.Display, Layout: capture.LayoutTracks, FPS: 15}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-rec.Done():
				return
			case <-time.After(20 * time.Millisecond):
				_ = rec.Stats()
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	rec.Stop()
	rec.Stop() // idempotent
	sum, err := rec.Wait()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Tracks) != 3 || sum.Size == 0 || sum.Duration < 1.4 {
		t.Fatalf("summary = %+v", sum)
	}
	for i, tr := range sum.Tracks {
		// 1.5 s at 15 fps: every frame time is encoded, or skipped as unchanged, or missed.
		// A still screen may encode only its first frame: the file's last frame lasts until
		// the stop, no frame is repeated there.
		if n := tr.Frames + tr.Unchanged + tr.Dropped; n < 20 || tr.Frames < 1 {
			t.Errorf("track %d: %d frame times (%+v), want about 22", i, n, tr)
		}
	}
	p, err := mediatest.ProbeFile(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	vs := p.VideoStreams()
	if len(vs) != 3 {
		t.Fatalf("%d streams, want 3", len(vs))
	}
	for i, s := range vs {
		if int64(s.NbReadFrames) != sum.Tracks[i].Frames {
			t.Errorf("track %d: file has %d frames, summary says %d", i, s.NbReadFrames, sum.Tracks[i].Frames)
		}
	}
	if st := rec.Stats(); st.Frames != sum.Frames || st.Bytes == 0 {
		t.Errorf("final stats %+v disagree with summary %+v", st, sum)
	}
}

func TestContextCancelFinalises(t *testing.T) {
	t.Parallel()
	srv := startDisplay(t)
	out := filepath.Join(t.TempDir(), "cancel.mp4")
	ctx, cancel := context.WithCancel(context.Background())
	rec, err := Start(ctx, Spec{CaptureSpec: CaptureSpec{Display: srv.Display, Monitors: capture.Selection{Indexes: []int{2}}}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cancel()
	select {
	case <-rec.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("recording did not end within 5 s of its context")
	}
	if _, err := rec.Wait(); err != nil {
		t.Fatal(err)
	}
	p, err := mediatest.ProbeFile(context.Background(), out)
	if err != nil || len(p.VideoStreams()) != 1 || p.Format.Duration < 0.5 {
		t.Fatalf("probe = %+v, %v", p, err)
	}
}

func TestStartFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	srv := startDisplay(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "never.mp4")
	cases := []struct {
		spec Spec
		want error
	}{
		{Spec{CaptureSpec: CaptureSpec{Display: srv.Display, Monitors: capture.Selection{Indexes: []int{3}}}, Out: out}, capture.ErrUnknownMonitor},
		{Spec{CaptureSpec: CaptureSpec{Display: srv.Display, Encoders: []string{"h264_nvenc"}}, Out: out}, nil},
		{Spec{CaptureSpec: CaptureSpec{Display: srv.Display, FPS: 61}, Out: out}, ErrInvalidSpec},
		{Spec{CaptureSpec: CaptureSpec{Display: srv.Display}, Out: filepath.Join(dir, "missing", "x.mp4")}, ErrOutput},
	}
	for _, c := range cases {
		_, err := Start(context.Background(), c.spec)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("Start(%+v) = %v, want %v", c.spec, err, c.want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
