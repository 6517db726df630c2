//go:build linux

package capture

import (
	"context"
	"image"
	"image/color"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/screenrec/recorder/internal/xgbext"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

// startServer starts a 640x480 Xvfb with more arguments, stopped at the end of the test.
func startServer(t *testing.T, args ...string) *xvfb.Server {
	t.Helper()
	xvfb.SkipIfUnavailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := xvfb.Start(ctx, xvfb.Options{Monitors: []xvfb.Monitor{{Name: "M0", Width: 640, Height: 480}}, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// openTestShm opens the change-tracking source of the whole screen, pointer not drawn, and
// reads its first frame (the whole screen, changed).
func openTestShm(t *testing.T, srv *xvfb.Server, fps int) *shmSource {
	t.Helper()
	return openTestShmWith(t, srv, SourceOptions{FPS: fps})
}

// openTestShmWith is openTestShm with options o (its display is srv's).
func openTestShmWith(t *testing.T, srv *xvfb.Server, o SourceOptions) *shmSource {
	t.Helper()
	o.Display = srv.Display
	s, err := openShm(Track{Name: "M0", Grab: image.Rect(0, 0, srv.Width, srv.Height)}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ch, err := s.ReadChange(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	whole := image.Rect(0, 0, srv.Width, srv.Height)
	// The pointer, drawn, adds its own area.
	if len(ch.Rects) == 0 || ch.Rects[0] != whole || !o.DrawMouse && len(ch.Rects) != 1 {
		t.Fatalf("first frame changed %v, want the whole screen", ch.Rects)
	}
	settle(t, s)
	return s
}

// settle reads frames until one is unchanged: damage done before the first frame's grab
// may still be reported after it.
func settle(t *testing.T, s *shmSource) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	for range 100 {
		ch, err := s.ReadChange(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Rects) == 0 {
			return
		}
	}
	t.Fatal("the screen never reads as still")
}

func painter(t *testing.T, srv *xvfb.Server) *xscene.Painter {
	t.Helper()
	p, err := xscene.Connect(srv.Display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pixel is the source's image at (x, y).
func (s *shmSource) pixel(x, y int) color.RGBA {
	i := (y*s.w + x) * 4
	return color.RGBA{R: s.buf[i+2], G: s.buf[i+1], B: s.buf[i], A: 255}
}

// readUntilChange reads frames until one reports a change (at most n), and returns it with
// how many frames were read.
func readUntilChange(t *testing.T, s *shmSource, n int) (Change, int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		ch, err := s.ReadChange(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Rects) > 0 {
			return ch, i
		}
	}
	t.Fatalf("no change reported in %d frames", n)
	return Change{}, 0
}

// covers reports whether the union of rects covers r.
func covers(rects []image.Rectangle, r image.Rectangle) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			in := false
			for _, c := range rects {
				in = in || image.Pt(x, y).In(c)
			}
			if !in {
				return false
			}
		}
	}
	return true
}

// A still screen costs the source no X request until it must read a frame: with the server
// stopped (SIGSTOP), so that any request would wait for ever, WaitChange sleeps until its
// deadline and returns. (Polling the damage, the old way, needed the server every frame.)
func TestStillScreenNeedsNoServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	waitsNeedNoServer(t, srv, openTestShm(t, srv, 30))
}

// waitsNeedNoServer stops srv (SIGSTOP, so that any request would wait for ever) and checks
// that three waits of 300 ms on s's still screen each last until their deadline with no
// request answered; srv goes on again after.
func waitsNeedNoServer(t *testing.T, srv *xvfb.Server, s *shmSource) {
	t.Helper()
	s.roundTrips.Store(0)
	if err := syscall.Kill(srv.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Kill(srv.Pid(), syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}()
	waited := make(chan time.Duration, 1)
	go func() {
		begin := time.Now()
		for range 3 {
			s.WaitChange(context.Background(), time.Now().Add(300*time.Millisecond), nil)
		}
		waited <- time.Since(begin)
	}()
	select {
	case d := <-waited:
		if d < 900*time.Millisecond {
			t.Errorf("3 waits of 300 ms on a still screen returned after %v: something woke them", d)
		}
	case <-time.After(20 * time.Second):
		t.Error("3 waits of 300 ms not over within 20 s of stopping the server: the source needs it")
		return
	}
	if n := s.roundTrips.Load(); n != 0 {
		t.Errorf("%d requests answered while waiting on a still screen (pointer drawn: %v), want 0", n, s.mouse)
	}
}

// With the pointer drawn, a still screen costs no X request either while the pointer stays
// put (XInput2 reports its moves; it is asked for only every warpCheck); a device move wakes
// the wait at once, and the next frame shows the pointer where it went.
func TestStillPointerNeedsNoServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	s := openTestShmWith(t, srv, SourceOptions{FPS: 30, DrawMouse: true})
	if !s.watchingMotion() {
		t.Fatal("pointer moves are not watched")
	}
	move := pointerMover(t, srv)
	move(100, 100)
	readUntilChange(t, s, 100)
	settle(t, s)
	waitsNeedNoServer(t, srv, s)

	woke := make(chan time.Time, 1)
	go func() {
		s.WaitChange(context.Background(), time.Now().Add(time.Hour), nil)
		woke <- time.Now()
	}()
	moved := time.Now()
	move(300, 200)
	select {
	case at := <-woke:
		t.Logf("woken %v after the move", at.Sub(moved))
	case <-time.After(20 * time.Second):
		t.Fatal("a pointer move did not end the wait")
	}
	ch, _ := readUntilChange(t, s, 100)
	if !covers(ch.Rects, image.Rect(300, 200, 302, 202)) {
		t.Errorf("after the move the frame changed %v, not where the pointer went (300,200)", ch.Rects)
	}
}

// pointerMover returns a function that moves srv's pointer as a device does (XTEST).
func pointerMover(t *testing.T, srv *xvfb.Server) func(x, y int) {
	t.Helper()
	conn, err := xgb.NewConnDisplay(srv.Display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if _, err := xgbext.Init(conn, "XTEST"); err != nil {
		t.Fatal(err)
	}
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	return func(x, y int) {
		t.Helper()
		if err := xtest.FakeInputChecked(conn, xproto.MotionNotify, 0, 0, root, int16(x), int16(y), 0).Check(); err != nil {
			t.Fatal(err)
		}
	}
}

// A change is reported by the first frame read after it is on screen, as the damaged area
// (not the whole screen), and the image holds what was drawn; drawing again over the same
// area (a blinking caret) is reported each time.
func TestDamageReportsEachChange(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	p := painter(t, srv)
	bg, ink := color.RGBA{250, 250, 250, 255}, color.RGBA{20, 30, 40, 255}
	if err := p.Fill(p.Bounds(), bg); err != nil {
		t.Fatal(err)
	}
	s := openTestShm(t, srv, 30)
	caret := image.Rect(301, 200, 303, 216) // 2x16, as a text caret
	for i := range 6 {
		want := ink
		if i%2 == 1 {
			want = bg
		}
		if err := p.Fill(caret, want); err != nil { // returns once the server has drawn it
			t.Fatal(err)
		}
		// The first frame read now is due at most a frame interval later: it must show it.
		ch, err := s.ReadChange(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !covers(ch.Rects, caret) {
			t.Fatalf("blink %d: changed %v, want them to cover the caret %v", i, ch.Rects, caret)
		}
		area := 0
		for _, r := range ch.Rects {
			area += r.Dx() * r.Dy()
		}
		if area > 64*caret.Dx()*caret.Dy() {
			t.Errorf("blink %d: changed %v (%d pixels) for a %d-pixel caret", i, ch.Rects, area, caret.Dx()*caret.Dy())
		}
		for _, pt := range []image.Point{caret.Min, caret.Max.Sub(image.Pt(1, 1))} {
			if got := s.pixel(pt.X, pt.Y); got != want {
				t.Errorf("blink %d: pixel %v is %v, want %v", i, pt, got, want)
			}
		}
		if got := s.pixel(caret.Max.X, caret.Min.Y); got != bg {
			t.Errorf("blink %d: pixel beside the caret is %v, want %v", i, got, bg)
		}
	}
}

// Without DAMAGE (Xvfb -extension DAMAGE) the source polls: a still screen reports no change,
// and a change is reported, where it is, and grabbed.
func TestPollsWithoutDamage(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "-extension", "DAMAGE")
	p := painter(t, srv)
	s := openTestShm(t, srv, 30)
	if !s.Polling() {
		t.Fatal("the source does not poll on a server without DAMAGE")
	}
	for i := range 3 {
		ch, err := s.ReadChange(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Rects) > 0 {
			t.Fatalf("still frame %d changed %v", i, ch.Rects)
		}
	}
	sq, ink := image.Rect(100, 120, 140, 150), color.RGBA{200, 40, 40, 255}
	if err := p.Fill(sq, ink); err != nil {
		t.Fatal(err)
	}
	ch, n := readUntilChange(t, s, 1)
	if !covers(ch.Rects, sq) || n != 1 {
		t.Fatalf("changed %v after %d frames, want the square %v at once", ch.Rects, n, sq)
	}
	for _, r := range ch.Rects {
		if r.Min.Y > sq.Min.Y || r.Max.Y < sq.Max.Y || r.Dy() > sq.Dy() {
			t.Errorf("changed rows %v, want exactly the square's rows %d-%d", r, sq.Min.Y, sq.Max.Y)
		}
	}
	if got := s.pixel(sq.Min.X, sq.Min.Y); got != ink {
		t.Errorf("square pixel %v, want %v", got, ink)
	}
	// Auto picks it too (it used to fall back to x11grab, which encodes every frame).
	src, err := Open(context.Background(), Track{Name: "M0", Grab: image.Rect(0, 0, srv.Width, srv.Height)},
		SourceOptions{Display: srv.Display, FPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, ok := src.(ChangeSource); !ok {
		t.Errorf("auto opened %T on a server without DAMAGE, want the change-tracking source", src)
	}
}

// A reader late on a still screen lost nothing: the frame times it did not read are Still,
// not Missed (the damage reports say nothing changed in them). Late over a change, they are
// Missed: what the screen showed in between is in no frame. (Before, a still screen read late
// counted every frame time as missed, and a loaded machine reported a still recording as
// dropping most of its frames.)
func TestLateReadOfStillScreenMissesNothing(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	p := painter(t, srv)
	s := openTestShm(t, srv, 20)
	time.Sleep(500 * time.Millisecond) // 10 frame times at 20 fps
	ch, err := s.ReadChange(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Rects) != 0 || ch.Missed != 0 || ch.Still < 5 {
		t.Errorf("late on a still screen: changed %v, missed %d, still %d; want nothing changed or missed, ≥ 5 still",
			ch.Rects, ch.Missed, ch.Still)
	}
	if err := p.Fill(image.Rect(10, 10, 50, 50), color.RGBA{200, 40, 40, 255}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	ch, err = s.ReadChange(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Rects) == 0 || ch.Missed < 5 || ch.Still != 0 {
		t.Errorf("late over a change: changed %v, missed %d, still %d; want the change, ≥ 5 missed, none still",
			ch.Rects, ch.Missed, ch.Still)
	}
}
