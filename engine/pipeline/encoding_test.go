package pipeline

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/internal/mediatest"
)

// The encoder keeps the last few frames for its lookahead, and a still screen is encoded only
// now and then: a change made just before the screen goes still must still reach the file
// within about a second (what a crash may lose), not after the encoder has seen a few more
// keep-alive frames (MaxFrameGap each, a minute here). The picture in the file is what was on
// screen.
func TestStillScreenChangeReachesTheFile(t *testing.T) {
	t.Parallel()
	bg, fg := color.RGBA{30, 90, 160, 255}, color.RGBA{240, 200, 30, 255}
	srv, p, m := paintedDisplay(t, 1, bg)
	out := filepath.Join(t.TempDir(), "still.mp4")
	rec, err := Start(context.Background(), Spec{CaptureSpec: CaptureSpec{Display: srv.Display, FPS: 15,
		Monitors: capture.Selection{Indexes: []int{1}}, Method: capture.MethodXShm, MaxFrameGap: time.Minute}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Stop()
	// writtenSince reports whether a frame captured at or after at is in the file's fragments
	// or the muxer, i.e. out of the encoder.
	writtenSince := func(at int64) bool {
		c := rec.capture
		c.mu.Lock()
		defer c.mu.Unlock()
		return rec.sink.written[0] > 0 && rec.sink.lastPts[0] >= at
	}
	waitFor := func(what string, at int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !writtenSince(at) {
			if time.Now().After(deadline) {
				t.Fatalf("%s (captured at %d ms) is not out of the encoder after 20 s; held %d frames, stats %+v",
					what, at, rec.capture.tracks[0].enc.Held(), rec.Stats())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the first frame", 0)
	sq := image.Rect(200, 150, 360, 270)
	if err := p.Fill(sq.Add(m.Min), fg); err != nil {
		t.Fatal(err)
	}
	painted := rec.capture.now()
	waitFor("the change", painted)
	rec.Stop()
	sum, err := rec.Wait()
	if err != nil {
		t.Fatal(err)
	}
	at := float64(painted)/1000 + 0.2
	img, err := mediatest.FrameAt(context.Background(), out, 0, min(at, sum.Duration-0.01))
	if err != nil {
		t.Fatal(err)
	}
	c := image.Pt((sq.Min.X+sq.Max.X)/2, (sq.Min.Y+sq.Max.Y)/2)
	if px := img.RGBAAt(c.X, c.Y); !mediatest.Near(px, fg, 14) {
		t.Errorf("frame at %.3fs shows %v at %v, want the square's %v", at, px, c, fg)
	}
	if px := img.RGBAAt(20, 20); !mediatest.Near(px, bg, 14) {
		t.Errorf("frame at %.3fs shows %v at 20,20, want the background %v", at, px, bg)
	}
}
