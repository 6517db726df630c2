package xscene

import (
	"context"
	"errors"
	"image"
	"image/color"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/screenrec/recorder/internal/xgbquiet"
	"github.com/screenrec/recorder/internal/xvfb"
)

// connectForTest connects a Painter to s and closes it at cleanup.
func connectForTest(t testing.TB, s *xvfb.Server) *Painter {
	t.Helper()
	p, err := Connect(s.Display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// rawPixel reads one pixel with a bare GetImage on its own connection and
// decodes it as BGRX, the layout of a 24-bit TrueColor ZPixmap on a
// little-endian server. It deliberately shares no code with Painter, so
// that it checks Painter's conversions rather than repeating them.
func rawPixel(t *testing.T, conn *xgb.Conn, root xproto.Window, x, y int) color.RGBA {
	t.Helper()
	reply, err := xproto.GetImage(conn, xproto.ImageFormatZPixmap, xproto.Drawable(root),
		int16(x), int16(y), 1, 1, ^uint32(0)).Reply()
	if err != nil {
		t.Fatalf("GetImage at %d,%d: %v", x, y, err)
	}
	if reply.Depth != 24 || len(reply.Data) < 4 {
		t.Fatalf("GetImage at %d,%d: depth %d, %d bytes; want depth 24, 4 bytes", x, y, reply.Depth, len(reply.Data))
	}
	d := reply.Data
	return color.RGBA{R: d[2], G: d[1], B: d[0], A: 0xff}
}

func TestFillThreeMonitors(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, xvfb.ThreeMonitors)
	p := connectForTest(t, s)

	if w, h := p.Size(); w != s.Width || h != s.Height {
		t.Fatalf("Size = %dx%d, want %dx%d", w, h, s.Width, s.Height)
	}
	colors := []color.RGBA{
		{0xff, 0x00, 0x00, 0xff},
		{0x00, 0xc0, 0x40, 0xff},
		{0x12, 0x34, 0xfe, 0xff},
	}
	for i, m := range s.Monitors {
		if err := p.Fill(m.Bounds(), colors[i]); err != nil {
			t.Fatalf("Fill %v: %v", m, err)
		}
	}

	xgbquiet.Do()
	conn, err := xgb.NewConnDisplay(s.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	for i, m := range s.Monitors {
		cx, cy := m.X+m.Width/2, m.Y+m.Height/2
		if got := rawPixel(t, conn, root, cx, cy); got != colors[i] {
			t.Errorf("%s centre (%d,%d) via raw GetImage = %v, want %v", m.Name, cx, cy, got, colors[i])
		}
		if got, err := p.Pixel(cx, cy); err != nil || got != colors[i] {
			t.Errorf("%s centre via Painter.Pixel = %v, %v; want %v", m.Name, got, err, colors[i])
		}
	}
	// Below the shorter monitors the screen is not covered by any monitor
	// and must still hold Xvfb's black background.
	if got := rawPixel(t, conn, root, 3300, 1050); got != (color.RGBA{A: 0xff}) {
		t.Errorf("uncovered pixel = %v, want black", got)
	}

	// Capture across the M0/M1 boundary returns root-indexed pixels.
	img, err := p.Capture(image.Rect(1910, 500, 1930, 510))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.RGBAAt(1919, 505); got != colors[0] {
		t.Errorf("Capture at 1919,505 = %v, want %v", got, colors[0])
	}
	if got := img.RGBAAt(1920, 505); got != colors[1] {
		t.Errorf("Capture at 1920,505 = %v, want %v", got, colors[1])
	}
}

func TestAnimateChangesPixelsAndStops(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, []xvfb.Monitor{{Name: "M0", Width: 640, Height: 480}})
	p := connectForTest(t, s)
	area := image.Rect(0, 0, 640, 480)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Animate(ctx, s.Display, area, 30) }()

	time.Sleep(300 * time.Millisecond)
	first, err := p.Capture(area)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	second, err := p.Capture(area)
	if err != nil {
		t.Fatal(err)
	}
	if changed := countDiff(first, second); changed < 100 {
		t.Errorf("only %d pixels changed in 200 ms of animation", changed)
	}
	// It must look like a document: mostly white paper with dark text.
	if white := countColor(second, paperColor); white < len(second.Pix)/4/2 {
		t.Errorf("only %d of %d pixels are paper", white, len(second.Pix)/4)
	}
	if text := countColor(second, textColor); text == 0 {
		t.Error("no text pixels drawn")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Animate returned %v after cancel, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Animate did not return within 2 s of cancel")
	}
	stopped, err := p.Capture(area)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	later, err := p.Capture(area)
	if err != nil {
		t.Fatal(err)
	}
	if changed := countDiff(stopped, later); changed != 0 {
		t.Errorf("%d pixels changed after Animate returned", changed)
	}
}

// TestScrollingMatchesRepaint checks the incremental drawing (erase block,
// CopyArea, paint the new row) against painting the same state from
// scratch: any off-by-one in the scrolling would leave visible seams.
func TestScrollingMatchesRepaint(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, []xvfb.Monitor{{Name: "M0", Width: 800, Height: 300}})
	p := connectForTest(t, s)
	left := image.Rect(0, 0, 400, 300)
	right := left.Add(image.Pt(400, 0))

	animated := newAnimation(p, left, 30)
	if err := p.locked(animated.start); err != nil {
		t.Fatal(err)
	}
	// Enough frames to scroll several lines and bounce the block.
	for range 200 {
		if err := p.locked(animated.update); err != nil {
			t.Fatal(err)
		}
	}
	if animated.blockColor == 0 {
		t.Fatal("block never bounced; the test would not cover bouncing")
	}

	fresh := newAnimation(p, right, 30)
	fresh.doc.offset = animated.doc.offset
	fresh.blockVX = animated.blockVX
	fresh.blockColor = animated.blockColor
	fresh.block = animated.block.Add(right.Min.Sub(left.Min))
	if err := p.locked(fresh.start); err != nil {
		t.Fatal(err)
	}

	a, err := p.Capture(left)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Capture(right)
	if err != nil {
		t.Fatal(err)
	}
	b.Rect = left // same pixels, indexed like a
	if n := countDiff(a, b); n != 0 {
		t.Errorf("scrolled frame differs from a fresh repaint in %d pixels", n)
	}
}

func TestDocumentIsReproducible(t *testing.T) {
	t.Parallel()
	area := image.Rect(0, 0, 1000, 500)
	s1, s2 := &document{area: area}, &document{area: area.Add(image.Pt(7, 9))}
	nonEmpty := 0
	for n := range 100 {
		a, b := s1.appendLine(nil, n), s2.appendLine(nil, n)
		if len(a) != len(b) {
			t.Fatalf("line %d: %d vs %d words", n, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("line %d word %d: %v vs %v", n, i, a[i], b[i])
			}
			if a[i].x1 > area.Dx() || a[i].x0 < 0 {
				t.Fatalf("line %d word %d outside the area: %v", n, i, a[i])
			}
		}
		if len(a) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 70 || nonEmpty == 100 {
		t.Errorf("%d of 100 lines have text; want mostly text with some paragraph breaks", nonEmpty)
	}
}

func TestPainterErrors(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, []xvfb.Monitor{{Name: "M0", Width: 64, Height: 64}})
	p := connectForTest(t, s)

	if err := p.Fill(image.Rect(100, 100, 200, 200), paperColor); !errors.Is(err, ErrEmptyRect) {
		t.Errorf("Fill outside root = %v, want ErrEmptyRect", err)
	}
	// A rectangle partly outside is clipped, not rejected.
	if err := p.Fill(image.Rect(-10, -10, 10, 10), paperColor); err != nil {
		t.Errorf("Fill partly outside root = %v", err)
	}
	if got, _ := p.Pixel(0, 0); got != paperColor {
		t.Errorf("clipped fill: pixel 0,0 = %v, want %v", got, paperColor)
	}
	for _, fps := range []int{0, -1, MaxFPS + 1} {
		if err := p.Animate(context.Background(), image.Rectangle{}, fps); !errors.Is(err, ErrBadFPS) {
			t.Errorf("Animate fps=%d = %v, want ErrBadFPS", fps, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := p.Fill(image.Rect(0, 0, 1, 1), paperColor); !errors.Is(err, ErrClosed) {
		t.Errorf("Fill after Close = %v, want ErrClosed", err)
	}
	if _, err := p.Capture(image.Rect(0, 0, 1, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Capture after Close = %v, want ErrClosed", err)
	}
	if _, err := Connect(":0.bogus"); err == nil {
		t.Error("Connect to a malformed display succeeded")
	}
}

func TestChannelConversions(t *testing.T) {
	t.Parallel()
	// RGB565, the one common format where components are not 8 bits wide.
	pf := pixelFormat{red: newChannel(0xf800), green: newChannel(0x07e0), blue: newChannel(0x001f)}
	for _, c := range []color.RGBA{{0, 0, 0, 0xff}, {0xff, 0xff, 0xff, 0xff}, {0xff, 0x80, 0x10, 0xff}} {
		v := pf.pixel(c)
		got := color.RGBA{pf.red.decode(v), pf.green.decode(v), pf.blue.decode(v), 0xff}
		// 5 and 6 bit channels lose up to half a step: 255/31/2 ≈ 4.
		if d := max(absDiff(got.R, c.R), absDiff(got.G, c.G), absDiff(got.B, c.B)); d > 4 {
			t.Errorf("%v -> %#04x -> %v: off by %d", c, v, got, d)
		}
	}
	pf = pixelFormat{red: newChannel(0xff0000), green: newChannel(0xff00), blue: newChannel(0xff)}
	if v := pf.pixel(color.RGBA{0x12, 0x34, 0x56, 0}); v != 0x123456 {
		t.Errorf("24-bit pixel = %#x, want 0x123456", v)
	}
}

func BenchmarkSceneStep(b *testing.B) {
	s := xvfb.StartForTest(b, []xvfb.Monitor{{Name: "M0", Width: 1920, Height: 1080}})
	p := connectForTest(b, s)
	sc := newAnimation(p, p.Bounds(), 30)
	if err := p.locked(sc.start); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.locked(sc.update); err != nil {
			b.Fatal(err)
		}
	}
}

// countDiff returns how many pixels differ between two images of the same
// bounds.
func countDiff(a, b *image.RGBA) int {
	n := 0
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			if a.RGBAAt(x, y) != b.RGBAAt(x, y) {
				n++
			}
		}
	}
	return n
}

// countColor returns how many pixels of img are exactly c.
func countColor(img *image.RGBA, c color.RGBA) int {
	n := 0
	for i := 0; i < len(img.Pix); i += 4 {
		if img.Pix[i] == c.R && img.Pix[i+1] == c.G && img.Pix[i+2] == c.B {
			n++
		}
	}
	return n
}

// absDiff returns |a-b|.
func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}

// BenchmarkSceneUpdate measures one update of each scene on a 1080p
// monitor, round trip included: what a scene costs per frame.
func BenchmarkSceneUpdate(b *testing.B) {
	s := xvfb.StartForTest(b, []xvfb.Monitor{{Name: "M0", Width: 1920, Height: 1080}})
	p := connectForTest(b, s)
	for _, sc := range scenes {
		b.Run(sc.name, func(b *testing.B) {
			pl := sc.new(p, p.Bounds(), 30)
			if err := p.locked(pl.start); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := p.locked(pl.update); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
