package pipeline

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

var (
	red    = color.RGBA{R: 255, A: 255}
	blue   = color.RGBA{B: 255, A: 255}
	green  = color.RGBA{G: 255, A: 255}
	yellow = color.RGBA{R: 255, G: 255, A: 255}
)

// twoSmall is a cheap two-monitor screen of 640x240.
var twoSmall = []xvfb.Monitor{
	{Name: "M0", X: 0, Y: 0, Width: 320, Height: 240},
	{Name: "M1", X: 320, Y: 0, Width: 320, Height: 240},
}

// screenTest is a recording on its own Xvfb whose screen the test changes.
type screenTest struct {
	t    *testing.T
	srv  *xvfb.Server
	c    *Capture
	sink *Sink
}

func startScreenTest(t *testing.T, layout capture.Layout) *screenTest {
	t.Helper()
	mediatest.SkipIfUnavailable(t)
	srv := xvfb.StartForTest(t, twoSmall)
	st := &screenTest{t: t, srv: srv}
	st.paint(image.Rect(0, 0, 320, 240), red)
	st.paint(image.Rect(320, 0, 640, 240), blue)
	// recorded waits for frames of a still screen: one a second, not one per default gap (10 s).
	c, err := OpenCapture(context.Background(), CaptureSpec{Display: srv.Display, Layout: layout, FPS: 10, MaxFrameGap: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := c.Attach(SinkConfig{Out: filepath.Join(t.TempDir(), "rec.mp4")})
	if err != nil {
		t.Fatal(err)
	}
	st.c, st.sink = c, sink
	t.Cleanup(func() { sink.Stop(); <-c.Done() })
	st.recorded()
	return st
}

// paint fills r with col through a new connection: an old one keeps the screen size it
// started with.
func (st *screenTest) paint(r image.Rectangle, col color.RGBA) {
	st.t.Helper()
	p, err := xscene.Connect(st.srv.Display)
	if err != nil {
		st.t.Fatal(err)
	}
	defer p.Close()
	if err := p.Fill(r, col); err != nil {
		st.t.Fatal(err)
	}
}

func (st *screenTest) xrandr(args ...string) {
	st.t.Helper()
	cmd := exec.Command("xrandr", args...)
	cmd.Env = st.srv.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		st.t.Fatalf("xrandr %v: %v: %s", args, err, out)
	}
}

// resize sets the screen's size, as a resolution switch does (the output goes off first:
// Xvfb's one mode is the start size).
func (st *screenTest) resize(w, h int) {
	st.t.Helper()
	cmd := exec.Command("xrandr", "--output", "screen", "--off")
	cmd.Env = st.srv.Env()
	_ = cmd.Run() // fails when already off
	st.xrandr("--fb", fmt.Sprintf("%dx%d", w, h))
}

// waitFor waits until cond holds, failing the test after 20 s.
func (st *screenTest) waitFor(what string, cond func() bool) {
	st.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			st.t.Fatalf("timed out waiting for %s; tracks %+v", what, st.c.Tracks())
		}
		select {
		case <-st.c.Done():
			st.t.Fatalf("capture ended waiting for %s: %v", what, st.c.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// recorded waits until the sink has written a few more frames of its first track, and
// returns a moment in the recording (from its start) when what was painted before was on
// screen.
func (st *screenTest) recorded() time.Duration {
	st.t.Helper()
	before := st.sink.Frames()
	st.waitFor("frames", func() bool {
		now := st.sink.Frames()
		return now[0] >= before[0]+5
	})
	return time.Since(st.sink.StartTime()) - 200*time.Millisecond
}

func (st *screenTest) finish() []mux.Segment {
	st.t.Helper()
	st.sink.Stop()
	segs, err := st.sink.Wait()
	if err != nil {
		st.t.Fatalf("recording failed: %v", err)
	}
	return segs
}

// frameAt decodes the frame of video stream v of segment seg shown at moment at of the
// recording. (A screen change clears the screen: the frames just before a cut may be black.)
func frameAt(t *testing.T, seg mux.Segment, v int, at time.Duration) *image.RGBA {
	t.Helper()
	img, err := mediatest.FrameAt(context.Background(), seg.Path, v, (at - seg.Start).Seconds())
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func wantColour(t *testing.T, what string, img *image.RGBA, x, y int, want color.RGBA) {
	t.Helper()
	if got := img.RGBAAt(x, y); !mediatest.Near(got, want, 40) {
		t.Errorf("%s at %d,%d = %v, want %v", what, x, y, got, want)
	}
}

func probe(t *testing.T, path string) *mediatest.Probe {
	t.Helper()
	p, err := mediatest.ProbeFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A canvas recording goes on through a smaller and a larger screen: a new segment at each
// change, sized and tagged as the screen then was, showing what was on it.
func TestCanvasFollowsScreenSize(t *testing.T) {
	t.Parallel()
	st := startScreenTest(t, capture.LayoutCanvas)

	st.resize(480, 240) // M1 is cut to 160x240
	st.waitFor("the canvas to shrink", func() bool { return st.c.Tracks()[0].Width == 480 })
	st.paint(image.Rect(0, 0, 320, 240), red)
	st.paint(image.Rect(320, 0, 480, 240), green)
	smaller := st.recorded()

	st.resize(640, 240)
	st.waitFor("the canvas to grow", func() bool { return st.c.Tracks()[0].Width == 640 })
	st.paint(image.Rect(0, 0, 320, 240), red)
	st.paint(image.Rect(320, 0, 640, 240), yellow)
	larger := st.recorded()

	segs := st.finish()
	if len(segs) != 3 {
		t.Fatalf("%d segments (%+v), want 3: before, during and after the smaller screen", len(segs), segs)
	}
	for i, want := range []struct {
		w        int
		monitors string
	}{{640, "320x240+320+0"}, {480, "160x240+320+0"}, {640, "320x240+320+0"}} {
		p := probe(t, segs[i].Path)
		if vs := p.VideoStreams(); len(vs) != 1 || vs[0].Width != want.w || vs[0].Height != 240 {
			t.Errorf("segment %d: streams %+v, want one of %dx240", i+1, vs, want.w)
		}
		if m := p.Format.Tags[MetaMonitors]; !strings.Contains(m, want.monitors) {
			t.Errorf("segment %d: monitors tag %q, want M1 at %s", i+1, m, want.monitors)
		}
	}
	mid := frameAt(t, segs[1], 0, smaller)
	wantColour(t, "smaller screen, M0", mid, 100, 120, red)
	wantColour(t, "smaller screen, M1", mid, 400, 120, green)
	end := frameAt(t, segs[2], 0, larger)
	wantColour(t, "larger screen, M0", end, 100, 120, red)
	wantColour(t, "larger screen, M1", end, 600, 120, yellow)
}

// A tracks recording keeps its whole monitor through a smaller screen, follows the cut one,
// and ends only that track when its monitor is removed.
func TestTracksFollowMonitors(t *testing.T) {
	t.Parallel()
	st := startScreenTest(t, capture.LayoutTracks)

	st.resize(480, 240) // M0 stays whole, M1 is cut to 160x240
	st.waitFor("M1 to shrink", func() bool { return st.c.Tracks()[1].Width == 160 })
	st.paint(image.Rect(0, 0, 320, 240), green)
	st.paint(image.Rect(320, 0, 480, 240), blue)
	smaller := st.recorded()

	st.xrandr("--delmonitor", "M1")
	st.waitFor("M1's track to end", func() bool { return st.c.Tracks()[1].Ended != "" })
	st.paint(image.Rect(0, 0, 320, 240), yellow)
	alone := st.recorded()

	segs := st.finish()
	if len(segs) != 3 {
		t.Fatalf("%d segments (%+v), want 3", len(segs), segs)
	}
	widths := [][]int{{320, 320}, {320, 160}, {320}}
	for i, want := range widths {
		vs := probe(t, segs[i].Path).VideoStreams()
		var got []int
		for _, s := range vs {
			got = append(got, s.Width)
		}
		if len(got) != len(want) || got[0] != want[0] || (len(want) > 1 && got[1] != want[1]) {
			t.Errorf("segment %d: stream widths %v, want %v", i+1, got, want)
		}
	}
	wantColour(t, "M0 on the smaller screen", frameAt(t, segs[1], 0, smaller), 100, 120, green)
	wantColour(t, "M1 cut", frameAt(t, segs[1], 1, smaller), 100, 120, blue)
	wantColour(t, "M0 alone", frameAt(t, segs[2], 0, alone), 100, 120, yellow)
	if e := st.c.Tracks()[1].Ended; e != "monitor M1 was disconnected" {
		t.Errorf("M1's track ended with %q", e)
	}
	if m := probe(t, segs[2].Path).Format.Tags[MetaMonitors]; strings.Contains(m, "M1") {
		t.Errorf("last segment's monitors tag %q still names M1", m)
	}
}
