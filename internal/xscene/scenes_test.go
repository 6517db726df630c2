package xscene

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/xvfb"
)

// vga is the single monitor most scene tests run on: large enough for
// every part of every scene, small enough to grab often.
var vga = []xvfb.Monitor{{Name: "M0", Width: 640, Height: 480}}

func TestScenesAndMixed3(t *testing.T) {
	t.Parallel()
	want := []string{SceneIdle, SceneTyping, SceneScrolling, SceneVideo, SceneSheet, SceneTerminal}
	if got := Scenes(); !slices.Equal(got, want) {
		t.Errorf("Scenes() = %q, want %q", got, want)
	}
	Scenes()[0] = "changed"
	if got := Scenes(); got[0] != SceneIdle {
		t.Errorf("Scenes() shares its slice: after a change it returns %q", got)
	}
	mixed := Mixed3()
	if len(mixed) != 3 {
		t.Fatalf("Mixed3() = %q, want 3 scenes", mixed)
	}
	seen := map[string]bool{}
	for _, name := range mixed {
		if !slices.Contains(want, name) {
			t.Errorf("Mixed3() has %q, which Play does not accept", name)
		}
		if seen[name] {
			t.Errorf("Mixed3() = %q has %q twice", mixed, name)
		}
		seen[name] = true
	}
}

func TestPlayErrors(t *testing.T) {
	t.Parallel()
	// The name is checked before connecting, so no display is needed.
	err := Play(context.Background(), ":0.bogus", "slideshow", image.Rectangle{}, 30)
	if !errors.Is(err, ErrUnknownScene) {
		t.Fatalf("Play(slideshow) = %v, want ErrUnknownScene", err)
	}
	for _, name := range append(Scenes(), "slideshow") {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %q", err, name)
		}
	}

	s := xvfb.StartForTest(t, []xvfb.Monitor{{Name: "M0", Width: 64, Height: 64}})
	p := connectForTest(t, s)
	ctx := context.Background()
	if err := p.Play(ctx, "", image.Rectangle{}, 30); !errors.Is(err, ErrUnknownScene) {
		t.Errorf("Play with no name = %v, want ErrUnknownScene", err)
	}
	for _, fps := range []int{0, -1, MaxFPS + 1} {
		if err := p.Play(ctx, SceneIdle, image.Rectangle{}, fps); !errors.Is(err, ErrBadFPS) {
			t.Errorf("Play fps=%d = %v, want ErrBadFPS", fps, err)
		}
	}
	if err := p.Play(ctx, SceneVideo, image.Rect(100, 100, 200, 200), 30); !errors.Is(err, ErrEmptyRect) {
		t.Errorf("Play outside the root = %v, want ErrEmptyRect", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Play(canceled, SceneTyping, image.Rectangle{}, 30); err != nil {
		t.Errorf("Play with a done context = %v, want nil", err)
	}
	// Tiny areas have no room for most of a scene's parts but still play.
	for _, name := range Scenes() {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if err := p.Play(short, name, image.Rect(0, 0, 64, 64), 100); err != nil {
			t.Errorf("Play %s on 64x64 = %v", name, err)
		}
		if err := p.Play(short, name, image.Rect(10, 10, 11, 12), 100); err != nil {
			t.Errorf("Play %s on 1x2 = %v", name, err)
		}
		cancel()
	}
	p.Close()
	if err := p.Play(ctx, SceneIdle, image.Rectangle{}, 30); !errors.Is(err, ErrClosed) {
		t.Errorf("Play after Close = %v, want ErrClosed", err)
	}
}

func TestPlayIdleOnlyBlinksTheCaret(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, vga)
	p := connectForTest(t, s)
	area := p.Bounds()
	l := newLayers(area)
	caret := paintForm(&l, newWindow(area).body)
	if caret.Dx()*caret.Dy() != caretWidth*caretHeight {
		t.Fatalf("caret %v is not %dx%d", caret, caretWidth, caretHeight)
	}
	playForTest(t, s, SceneIdle, image.Rectangle{}, 30)
	waitForFirstFrame(t, p, area)

	// Seven grabs 300 ms apart span more than three blink periods, so both
	// states must show up, and every pair is compared, including pairs
	// more than a period apart.
	var grabs []*image.RGBA
	on, off := 0, 0
	for i := range 7 {
		if i > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		g := capture(t, p, area)
		switch n := countColorIn(g, caret, textColor); n {
		case caretWidth * caretHeight:
			on++
		case 0:
			off++
		default:
			t.Errorf("grab %d: %d of the caret's pixels are ink, want all or none", i, n)
		}
		for j, prev := range grabs {
			if n, b := diffBounds(prev, g); n > 0 && !b.In(caret) {
				t.Errorf("grabs %d and %d differ in %d pixels within %v, outside the caret %v", j, i, n, b, caret)
			}
		}
		grabs = append(grabs, g)
	}
	if on == 0 || off == 0 {
		t.Errorf("caret shown in %d and hidden in %d of 7 grabs over 1.8 s; it must blink", on, off)
	}
	if n := countColor(grabs[0], paperColor); n == 0 {
		t.Error("no white field pixels: the form is not drawn")
	}
}

func TestPlayTypingAddsInkInSmallAreas(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, vga)
	p := connectForTest(t, s)
	area := p.Bounds()
	box := newTyping(p, area).box
	playForTest(t, s, SceneTyping, image.Rectangle{}, 20)
	waitForFirstFrame(t, p, area)

	prev := capture(t, p, area)
	prevInk := countColorIn(prev, box, textColor)
	for i := range 3 {
		time.Sleep(300 * time.Millisecond)
		g := capture(t, p, area)
		ink := countColorIn(g, box, textColor)
		if ink <= prevInk {
			t.Errorf("grab %d: %d ink pixels after %d; typing must add ink", i+1, ink, prevInk)
		}
		// About 6 keystrokes at 20 a second: each changes at most ~170
		// pixels, and even with a line wrap and a paragraph break they
		// stay within a few lines.
		n, b := diffBounds(prev, g)
		if n == 0 || n > 2000 || !b.In(box) || b.Dy() > 5*lineHeight {
			t.Errorf("grab %d: %d pixels changed within %v; want a few hundred within a few lines of %v", i+1, n, b, box)
		}
		prev, prevInk = g, ink
	}
}

// TestTypingUpdatesAreSmall types more than a page, checking every
// keystroke: each changes a glyph and the caret, and a full box is
// cleared.
func TestTypingUpdatesAreSmall(t *testing.T) {
	t.Parallel()
	// A box of four lines of about 30 characters fills up quickly.
	s := xvfb.StartForTest(t, []xvfb.Monitor{{Name: "M0", Width: 240, Height: 140}})
	p := connectForTest(t, s)
	area := p.Bounds()
	ty := newTyping(p, area)
	if err := p.locked(ty.start); err != nil {
		t.Fatal(err)
	}
	// The box's border shows any change outside it.
	grab := ty.box.Inset(-1)
	caretInk := caretWidth * caretHeight
	prev := capture(t, p, grab)
	prevInk := countColorIn(prev, ty.box, textColor)
	if prevInk != caretInk {
		t.Fatalf("empty box has %d ink pixels, want just the caret's %d", prevInk, caretInk)
	}
	pages, glyphs := 0, 0
	for i := range 400 {
		// A keystroke after a whole word is a space or a paragraph break;
		// any other types a glyph, unless the box is full.
		page, glyph := ty.page, !ty.inWord || ty.typed < len(ty.word)
		if err := p.locked(ty.update); err != nil {
			t.Fatal(err)
		}
		g := capture(t, p, grab)
		ink := countColorIn(g, ty.box, textColor)
		n, b := diffBounds(prev, g)
		switch {
		case !b.In(ty.box):
			t.Fatalf("update %d changed %v, outside the text box %v", i, b, ty.box)
		case ty.page != page:
			pages++
			if ink != caretInk {
				t.Fatalf("update %d started a page with %d ink pixels, want the caret's %d", i, ink, caretInk)
			}
		case n == 0:
			t.Fatalf("update %d changed nothing", i)
		case n > 2*caretInk+8*(xHeight+ascender) || b.Dy() > 3*lineHeight:
			t.Fatalf("update %d changed %d pixels within %v: too much for a keystroke", i, n, b)
		case glyph:
			glyphs++
			if ink <= prevInk {
				t.Fatalf("update %d typed a glyph but ink went from %d to %d pixels", i, prevInk, ink)
			}
		case ink != prevInk:
			t.Fatalf("update %d moved the caret but ink went from %d to %d pixels", i, prevInk, ink)
		}
		prev, prevInk = g, ink
	}
	if pages < 2 || glyphs < 200 {
		t.Errorf("%d glyphs typed and %d new pages in 400 updates; the box should fill up twice", glyphs, pages)
	}
	t.Logf("%d glyphs, %d new pages", glyphs, pages)
}

func TestPlayScrollingMovesByWholeSteps(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, vga)
	p := connectForTest(t, s)
	area := p.Bounds()
	body := newWindow(area).body
	playForTest(t, s, SceneScrolling, image.Rectangle{}, 30)
	waitForFirstFrame(t, p, area)

	a := capture(t, p, area)
	time.Sleep(200 * time.Millisecond)
	b := capture(t, p, area)
	n, changed := diffBounds(a, b)
	if n == 0 || !changed.In(body) {
		t.Fatalf("%d pixels changed within %v; want the document %v to scroll and nothing else to change", n, changed, body)
	}
	k := scrollShift(a, b, body)
	if k <= 0 || k%scrollStep != 0 {
		t.Errorf("content moved up by %d px in 200 ms, want a positive multiple of %d", k, scrollStep)
	}
	t.Logf("scrolled %d px in 200 ms", k)
}

// TestScrollingSceneMatchesRepaint scrolls the scene update by update and
// checks the distance against the number of updates and the pixels
// against a scene painted from scratch at the same offset.
func TestScrollingSceneMatchesRepaint(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, []xvfb.Monitor{{Name: "M0", Width: 800, Height: 300}})
	p := connectForTest(t, s)
	left := image.Rect(0, 0, 400, 300)
	right := left.Add(image.Pt(400, 0))

	sc := newScrolling(p, left)
	if err := p.locked(sc.start); err != nil {
		t.Fatal(err)
	}
	before := capture(t, p, left)
	const updates = 7
	for range updates {
		if err := p.locked(sc.update); err != nil {
			t.Fatal(err)
		}
	}
	after := capture(t, p, left)
	if k := scrollShift(before, after, sc.doc.area); k != updates*scrollStep {
		t.Errorf("%d updates scrolled by %d px, want %d", updates, k, updates*scrollStep)
	}

	fresh := newScrolling(p, right)
	fresh.doc.offset = sc.doc.offset
	if err := p.locked(fresh.start); err != nil {
		t.Fatal(err)
	}
	repainted := capture(t, p, right)
	repainted.Rect = left
	if n := countDiff(after, repainted); n != 0 {
		t.Errorf("scrolled scene differs from a fresh repaint in %d pixels", n)
	}
}

func TestPlayVideoChangesOnlyThePicture(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, vga)
	p := connectForTest(t, s)
	area := p.Bounds()
	pic := newVideo(p, area).picture
	playForTest(t, s, SceneVideo, image.Rectangle{}, 10)
	waitForFirstFrame(t, p, area)

	prev := capture(t, p, area)
	for i := range 3 {
		time.Sleep(250 * time.Millisecond)
		g := capture(t, p, area)
		n, b := diffBounds(prev, g)
		if !b.In(pic) {
			t.Errorf("grab %d: pixels changed within %v, outside the picture %v", i+1, b, pic)
		}
		if area := pic.Dx() * pic.Dy(); n < area*9/10 {
			t.Errorf("grab %d: %d of the picture's %d pixels changed, want nearly all", i+1, n, area)
		}
		prev = g
	}
}

// TestVideoUpdatesRedrawThePicture checks update by update that the whole
// picture changes, that nothing else does, and that the screen shows
// exactly the rendered frame, which the picture is large enough to need
// several PutImage requests for.
func TestVideoUpdatesRedrawThePicture(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, vga)
	p := connectForTest(t, s)
	area := p.Bounds()
	v := newVideo(p, area)
	if len(v.buf) <= p.maxRequest {
		t.Fatalf("picture %v fits one request; the test would not cover splitting", v.picture)
	}
	if err := p.locked(v.start); err != nil {
		t.Fatal(err)
	}
	prev := capture(t, p, area)
	picArea := v.picture.Dx() * v.picture.Dy()
	for i := range 5 {
		if err := p.locked(v.update); err != nil {
			t.Fatal(err)
		}
		g := capture(t, p, area)
		n, b := diffBounds(prev, g)
		if !b.In(v.picture) || n < picArea*95/100 {
			t.Errorf("update %d changed %d pixels within %v; want nearly all %d of the picture %v and nothing else",
				i+1, n, b, picArea, v.picture)
		}
		want, err := p.format.decode(v.buf, v.picture)
		if err != nil {
			t.Fatal(err)
		}
		got := capture(t, p, v.picture)
		if n := countDiff(got, want); n != 0 {
			t.Errorf("update %d: %d pixels on screen differ from the rendered frame", i+1, n)
		}
		prev = g
	}
}

// TestScenesAreReproducible plays every scene side by side twice for the
// same number of updates: the two copies must be identical.
func TestScenesAreReproducible(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, []xvfb.Monitor{{Name: "M0", Width: 1280, Height: 400}})
	p := connectForTest(t, s)
	left := image.Rect(0, 0, 640, 400)
	right := left.Add(image.Pt(640, 0))
	for _, sc := range scenes {
		a, b := sc.new(p, left, 30), sc.new(p, right, 30)
		for i := range 21 {
			step := player.update
			if i == 0 {
				step = player.start
			}
			if err := p.locked(func() { step(a) }); err != nil {
				t.Fatal(err)
			}
			if err := p.locked(func() { step(b) }); err != nil {
				t.Fatal(err)
			}
		}
		ga, gb := capture(t, p, left), capture(t, p, right)
		gb.Rect = left
		if n := countDiff(ga, gb); n != 0 {
			t.Errorf("%s: two runs differ in %d pixels after 20 updates", sc.name, n)
		}
	}
}

func TestPixelPutMatchesDecode(t *testing.T) {
	t.Parallel()
	rgb888 := func(bpp int, msb bool) pixelFormat {
		return pixelFormat{bitsPerPixel: bpp, scanlinePad: 32, msbFirst: msb,
			red: newChannel(0xff0000), green: newChannel(0xff00), blue: newChannel(0xff)}
	}
	formats := map[string]pixelFormat{
		"32 LSB": rgb888(32, false), "32 MSB": rgb888(32, true),
		"24 LSB": rgb888(24, false), "24 MSB": rgb888(24, true),
		"16 LSB": {bitsPerPixel: 16, scanlinePad: 32, red: newChannel(0xf800), green: newChannel(0x07e0), blue: newChannel(0x001f)},
		"16 MSB": {bitsPerPixel: 16, scanlinePad: 32, msbFirst: true, red: newChannel(0xf800), green: newChannel(0x07e0), blue: newChannel(0x001f)},
	}
	colors := []color.RGBA{{0xff, 0, 0, 0xff}, {0, 0xff, 0, 0xff}, {0, 0, 0xff, 0xff}}
	for name, pf := range formats {
		r := image.Rect(5, 7, 5+len(colors), 8) // odd width: 24 and 16 bpp rows need padding
		data := make([]byte, pf.stride(r.Dx()))
		for i, c := range colors {
			pf.put(data[i*pf.bitsPerPixel/8:], pf.pixel(c))
		}
		img, err := pf.decode(data, r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, c := range colors {
			if got := img.RGBAAt(r.Min.X+i, r.Min.Y); got != c {
				t.Errorf("%s: pixel %d = %v, want %v", name, i, got, c)
			}
		}
	}
}

// playForTest runs Play on a connection of its own until the test ends,
// and then checks that it stops promptly and cleanly.
func playForTest(t *testing.T, s *xvfb.Server, name string, area image.Rectangle, fps int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Play(ctx, s.Display, name, area, fps) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Play %s = %v, want nil after cancel", name, err)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("Play %s did not return within 2 s of cancel", name)
		}
	})
}

// waitForFirstFrame waits until a scene playing in area has painted its
// first frame: the desktop colour shows in the area's corner, which is
// painted first, and then a little longer for the rest.
func waitForFirstFrame(t *testing.T, p *Painter, area image.Rectangle) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := p.Pixel(area.Min.X, area.Min.Y)
		if err != nil {
			t.Fatal(err)
		}
		if c == inkColors[inkDesk] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scene not drawn within 5 s: corner pixel is %v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
}

// capture grabs r or fails the test.
func capture(t *testing.T, p *Painter, r image.Rectangle) *image.RGBA {
	t.Helper()
	img, err := p.Capture(r)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// diffBounds returns how many pixels differ between two images of the
// same bounds, and the smallest rectangle holding them. Rows are compared
// whole first, since most are equal; pixel by pixel they would make the
// tests slow under the race detector.
func diffBounds(a, b *image.RGBA) (n int, bounds image.Rectangle) {
	w := a.Rect.Dx() * 4
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		ra, rb := a.Pix[a.PixOffset(a.Rect.Min.X, y):][:w], b.Pix[b.PixOffset(b.Rect.Min.X, y):][:w]
		if bytes.Equal(ra, rb) {
			continue
		}
		for i := 0; i < w; i += 4 {
			if !bytes.Equal(ra[i:i+4], rb[i:i+4]) {
				n++
				x := a.Rect.Min.X + i/4
				bounds = bounds.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return n, bounds
}

// countColorIn returns how many pixels of img inside r are exactly c.
func countColorIn(img *image.RGBA, r image.Rectangle, c color.RGBA) int {
	n := 0
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

// scrollShift returns by how many rows the content of r moved up from a
// to b: the smallest k > 0 for which every row of b is row k further
// down in a, or -1 if there is none. The bottom scrollStep rows of each
// image are left out, because a grab taken during an update may show
// them before the new row is painted.
func scrollShift(a, b *image.RGBA, r image.Rectangle) int {
	rowsEqual := func(ya, yb int) bool {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.RGBAAt(x, ya) != b.RGBAAt(x, yb) {
				return false
			}
		}
		return true
	}
shifts:
	for k := 1; k < r.Dy()/2; k++ {
		for y := r.Min.Y; y+k < r.Max.Y-scrollStep; y++ {
			if !rowsEqual(y+k, y) {
				continue shifts
			}
		}
		return k
	}
	return -1
}
