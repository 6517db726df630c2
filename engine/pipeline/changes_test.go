package pipeline

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/xgbext"
)

// change is one thing painted during a recording and when it was on screen.
type change struct {
	rect   image.Rectangle
	colour color.RGBA
	sent   time.Time // the paint was requested (the erasing of the one before, too)
	done   time.Time // the paint's round trip returned: it is on screen
}

// The change-tracking capture skips still frames, yet the recording shows every change from
// the first frame captured after it (at most one frame interval later) and never content
// that is gone: each small square painted in turn, here and there, appears on time, and the
// one before it is erased where it was.
func TestChangesAppearOnTimeAndNothingStale(t *testing.T) {
	t.Parallel()
	bg := color.RGBA{40, 60, 200, 255}
	srv, p, m := paintedDisplay(t, 2, bg)
	out := filepath.Join(t.TempDir(), "changes.mp4")
	const fps = 15
	rec, err := Start(context.Background(), Spec{CaptureSpec: CaptureSpec{Display: srv.Display, FPS: fps,
		Monitors: capture.Selection{Indexes: []int{2}}, Method: capture.MethodXShm}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // still: frames skipped
	colours := []color.RGBA{{230, 40, 40, 255}, {40, 200, 60, 255}, {240, 220, 40, 255}, {250, 250, 250, 255}, {20, 20, 20, 255}}
	var changes []change
	var prev image.Rectangle
	for i, c := range colours {
		// Squares at odd offsets and sizes: conversion of small areas widens them to whole
		// chroma cells.
		r := image.Rect(101+i*97, 77+i*61, 101+i*97+33, 77+i*61+29)
		sent := time.Now()
		if !prev.Empty() {
			if err := p.Fill(prev, bg); err != nil { // erased at the same time as the next is drawn
				t.Fatal(err)
			}
		}
		if err := p.Fill(r.Add(m.Min), c); err != nil {
			t.Fatal(err)
		}
		changes = append(changes, change{rect: r, colour: c, sent: sent, done: time.Now()})
		prev = r.Add(m.Min)
		time.Sleep(time.Duration(300+i*170) * time.Millisecond) // irregular: still frames between
	}
	rec.Stop()
	sum, err := rec.Wait()
	if err != nil {
		t.Fatal(err)
	}
	tr := sum.Tracks[0]
	if tr.Unchanged < tr.Frames {
		t.Errorf("a mostly still screen encoded %d frames and skipped %d", tr.Frames, tr.Unchanged)
	}
	times, err := mediatest.FrameTimes(context.Background(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	interval := 1.0 / fps
	for i, c := range changes {
		at := c.done.Sub(sum.StartTime).Seconds()
		// The first frame captured after the paint returned; or one captured while it was on
		// its way, which shows it already (DAMAGE tells the capture as soon as the server has
		// drawn, before the painter hears back).
		first := -1.0
		for _, ft := range times {
			// Timestamps are whole milliseconds, and a frame read on the paint's damage
			// may be taken while the paint is still on its way: only a frame a millisecond
			// after the paint returned must show it (one before may, checked below). (The
			// last change's frame is the file's last: no frame is repeated at the stop.)
			if ft > at+0.001 {
				first = ft
				break
			}
		}
		if first < 0 {
			t.Fatalf("change %d at %.3fs: no frame after it (frames %v)", i, at, times)
		}
		for _, ft := range times {
			if ft < c.sent.Sub(sum.StartTime).Seconds() || ft >= first {
				continue
			}
			img, err := mediatest.FrameAt(context.Background(), out, 0, ft)
			if err != nil {
				t.Fatal(err)
			}
			centre := image.Pt((c.rect.Min.X+c.rect.Max.X)/2, (c.rect.Min.Y+c.rect.Max.Y)/2)
			if mediatest.Near(img.RGBAAt(centre.X, centre.Y), c.colour, 14) {
				first = ft
				break
			}
		}
		// One interval, plus slack for a loaded machine when the capture missed frames.
		if late := first - at; late > interval+0.02 && tr.Dropped == 0 {
			t.Errorf("change %d at %.3fs first appears in the frame at %.3fs, %.0f ms later (frames %v, track %+v)",
				i, at, first, late*1000, times, tr)
		}
		img, err := mediatest.FrameAt(context.Background(), out, 0, first)
		if err != nil {
			t.Fatal(err)
		}
		centre := image.Pt((c.rect.Min.X+c.rect.Max.X)/2, (c.rect.Min.Y+c.rect.Max.Y)/2)
		if px := img.RGBAAt(centre.X, centre.Y); !mediatest.Near(px, c.colour, 14) {
			t.Errorf("change %d: frame at %.3fs shows %v at %v, want %v", i, first, px, centre, c.colour)
		}
		// Corners two pixels in: their 2x2 chroma cells lie inside the square.
		for _, corner := range []image.Point{c.rect.Min.Add(image.Pt(2, 2)), c.rect.Max.Sub(image.Pt(3, 3))} {
			if px := img.RGBAAt(corner.X, corner.Y); !mediatest.Near(px, c.colour, 30) {
				t.Errorf("change %d: corner %v shows %v, want %v", i, corner, px, c.colour)
			}
		}
		if i > 0 {
			old := changes[i-1].rect
			oc := image.Pt((old.Min.X+old.Max.X)/2, (old.Min.Y+old.Max.Y)/2)
			if px := img.RGBAAt(oc.X, oc.Y); !mediatest.Near(px, bg, 14) {
				t.Errorf("change %d: the previous square is still shown at %v: %v, want %v", i, oc, px, bg)
			}
		}
	}
}

// The pointer is painted where it is and, once it moves, nowhere else: its old place shows
// the screen again. A device's move (XInput2 reports it) shows within a frame or two; a
// client's warp of the pointer (no motion event) within the source's warp check, a second.
func TestPointerMovesWithoutTrail(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		warp   bool
		within float64 // seconds after the move by which the frame shows it
	}{{"device", false, 0.3}, {"warp", true, 1.3}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testPointerMove(t, c.warp, c.within)
		})
	}
}

func testPointerMove(t *testing.T, warp bool, within float64) {
	bg := color.RGBA{250, 250, 250, 255} // the default pointer is black and white: visible on it
	srv, _, _ := paintedDisplay(t, 0, bg)
	conn, err := xgb.NewConnDisplay(srv.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := xgbext.Init(conn, "XTEST"); err != nil {
		t.Fatal(err)
	}
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	move := func(x, y int) {
		t.Helper()
		err := xtest.FakeInputChecked(conn, xproto.MotionNotify, 0, 0, root, int16(x), int16(y), 0).Check()
		if warp {
			err = xproto.WarpPointerChecked(conn, 0, root, 0, 0, 0, 0, int16(x), int16(y)).Check()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := image.Pt(300, 300), image.Pt(900, 600)
	move(a.X, a.Y)
	out := filepath.Join(t.TempDir(), "pointer.mp4")
	rec, err := Start(context.Background(), Spec{CaptureSpec: CaptureSpec{Display: srv.Display, FPS: 15, DrawMouse: true,
		Monitors: capture.Selection{Indexes: []int{0}}, Method: capture.MethodXShm}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	moved := time.Now()
	move(b.X, b.Y)
	time.Sleep(time.Duration((within + 0.3) * float64(time.Second)))
	rec.Stop()
	sum, err := rec.Wait()
	if err != nil {
		t.Fatal(err)
	}
	at := moved.Sub(sum.StartTime).Seconds()
	// The pointer's image is drawn around its hot spot: look for non-background pixels in a
	// small box below-right of it.
	drawn := func(img *image.RGBA, pt image.Point) bool {
		for y := pt.Y - 2; y < pt.Y+12; y++ {
			for x := pt.X - 2; x < pt.X+12; x++ {
				if !mediatest.Near(img.RGBAAt(x, y), bg, 40) {
					return true
				}
			}
		}
		return false
	}
	for _, c := range []struct {
		at            float64
		here, notHere image.Point
	}{{at - 0.2, a, b}, {at + within, b, a}} {
		img, err := mediatest.FrameAt(context.Background(), out, 0, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if !drawn(img, c.here) {
			t.Errorf("at %.2fs (moved at %.2fs): no pointer at %v", c.at, at, c.here)
		}
		if drawn(img, c.notHere) {
			t.Errorf("at %.2fs (moved at %.2fs): pointer (or its trail) at %v", c.at, at, c.notHere)
		}
	}
}
