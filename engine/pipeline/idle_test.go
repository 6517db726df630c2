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

// A still screen, recorded with DAMAGE events, is encoded only at the frame gap (keep-alive
// frames, neither more nor much later), and a blinking 2×16 caret appears in the recording
// from the first frame after each blink, which comes within a frame interval.
func TestStillScreenKeepAliveAndCaretBlink(t *testing.T) {
	t.Parallel()
	bg, ink := color.RGBA{250, 250, 250, 255}, color.RGBA{10, 10, 10, 255}
	srv, p, m := paintedDisplay(t, 0, bg)
	out := filepath.Join(t.TempDir(), "idle.mp4")
	const fps, gap = 15, 400 * time.Millisecond
	// An encoder that holds no frames (no lookahead), so that a still screen is encoded every
	// gap exactly; draining a holding encoder more often is TestScheduleDrainsTheEncoder's.
	rec, err := Start(context.Background(), Spec{CaptureSpec: CaptureSpec{Display: srv.Display, FPS: fps, MaxFrameGap: gap,
		Monitors: capture.Selection{Indexes: []int{0}}, Method: capture.MethodXShm,
		EncoderOptions: map[string]string{"rc-lookahead": "0", "mbtree": "0"}}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // still
	caret := image.Rect(600, 300, 602, 316).Add(m.Min)
	type blink struct {
		on   bool
		done time.Time
	}
	var blinks []blink
	for i := range 4 {
		c := ink
		if i%2 == 1 {
			c = bg
		}
		if err := p.Fill(caret, c); err != nil {
			t.Fatal(err)
		}
		blinks = append(blinks, blink{on: i%2 == 0, done: time.Now()})
		time.Sleep(530 * time.Millisecond)
	}
	rec.Stop()
	sum, err := rec.Wait()
	if err != nil {
		t.Fatal(err)
	}
	times, err := mediatest.FrameTimes(context.Background(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	tr := sum.Tracks[0]
	firstBlink := blinks[0].done.Sub(sum.StartTime).Seconds()
	// Still frames: from 0.5 s (what was drawn before the start may still be reported just
	// after it) until shortly before the first blink (a frame may show it before the
	// painter's request returns).
	var still []float64
	for _, ft := range times {
		if ft >= 0.5 && ft < firstBlink-0.25 {
			still = append(still, ft)
		}
	}
	if len(still) < 3 {
		t.Fatalf("%d frames in %.1f s of a still screen with a %v frame gap, want ≥ 3 (frames %v, track %+v)",
			len(still), firstBlink-0.75, gap, times, tr)
	}
	for i := 1; i < len(still); i++ {
		d := still[i] - still[i-1]
		// Never sooner than the gap; later only by how late a loaded machine wakes up.
		if d < gap.Seconds()-0.0015 || d > gap.Seconds()+1 {
			t.Errorf("still frames at %.3fs and %.3fs: %.0f ms apart, want the %v gap (frames %v)", still[i-1], still[i], d*1000, gap, still)
		}
	}
	interval := 1.0 / fps
	centre := image.Pt(caret.Min.X-m.Min.X, (caret.Min.Y+caret.Max.Y)/2-m.Min.Y)
	for i, b := range blinks {
		at := b.done.Sub(sum.StartTime).Seconds()
		want := bg
		if b.on {
			want = ink
		}
		// The first frame a millisecond after the paint returned must show the blink; one
		// read on its damage while the paint was on its way may show it already.
		first := -1.0
		for _, ft := range times {
			if ft > at+0.001 {
				first = ft
				break
			}
		}
		if first < 0 {
			t.Fatalf("blink %d at %.3fs: no frame after it (frames %v)", i, at, times)
		}
		for _, ft := range times {
			if ft < at-0.02 || ft >= first {
				continue
			}
			img, err := mediatest.FrameAt(context.Background(), out, 0, ft)
			if err != nil {
				t.Fatal(err)
			}
			if mediatest.Near(img.RGBAAt(centre.X, centre.Y), want, 60) {
				first = ft
				break
			}
		}
		if late := first - at; late > interval+0.02 && tr.Dropped == 0 {
			t.Errorf("blink %d at %.3fs first appears in the frame at %.3fs, %.0f ms later (frames %v)", i, at, first, late*1000, times)
		}
		img, err := mediatest.FrameAt(context.Background(), out, 0, first)
		if err != nil {
			t.Fatal(err)
		}
		// A 2-pixel bar shares its chroma cells with the background: compare loosely.
		if px := img.RGBAAt(centre.X, centre.Y); !mediatest.Near(px, want, 60) {
			t.Errorf("blink %d (on=%t) at %.3fs: frame at %.3fs shows %v at the caret %v, want %v (frames %v, track %+v)",
				i, b.on, at, first, px, centre, want, times, tr)
		}
	}
}
