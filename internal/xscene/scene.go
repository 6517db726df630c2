package xscene

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"time"

	"github.com/jezek/xgb/xproto"
)

// MaxFPS is the highest frame rate Animate accepts.
const MaxFPS = 1000

// Layout of the scrolling document, in pixels. A line of "text" is a row
// of dark bars as tall as lowercase letters with ascender/descender room
// around them, which is roughly what 12 pt text looks like to an encoder.
const (
	lineHeight  = 18
	glyphTop    = 4  // gap between the top of a line and its bars
	glyphHeight = 10 // height of a bar ("x-height plus a bit")
	wordGap     = 6
	scrollStep  = 2 // pixels scrolled per frame: "a few" px, like smooth scrolling
)

// sceneSeed fixes the document's content, so every run draws the same
// pixels for the same scroll position.
const sceneSeed = 0x5c12ee

// Inks are the colours of the scene, in painting order: paper first so
// that text lands on top of it, the moving block last so it covers text.
const (
	inkPaper = iota
	inkText
	inkLink
	inkBlock
	numInks
)

// Fixed colours of the scene.
var (
	paperColor = color.RGBA{0xff, 0xff, 0xff, 0xff}
	textColor  = color.RGBA{0x20, 0x21, 0x24, 0xff}
	linkColor  = color.RGBA{0x1a, 0x56, 0xc8, 0xff}
	// blockColors cycle each time the block bounces off a side.
	blockColors = []color.RGBA{
		{0xe5, 0x39, 0x35, 0xff}, // red
		{0x43, 0xa0, 0x47, 0xff}, // green
		{0xfb, 0x8c, 0x00, 0xff}, // orange
		{0x8e, 0x24, 0xaa, 0xff}, // purple
	}
)

// word is one bar of "text": its horizontal extent relative to the
// animated area and its ink.
type word struct {
	x0, x1 int
	ink    int
}

// scene is the state of one Animate run. The document is an endless
// column of lines; offset is the document row shown at the top of the
// area. Everything on screen is a pure function of offset and the block's
// position, which is what lets the scene repaint any rectangle (to erase
// the block, or to fill the row scrolled in) without remembering pixels.
type scene struct {
	p      *Painter
	area   image.Rectangle
	offset int

	block      image.Rectangle // where the block is drawn now, in root coordinates
	blockVX    int             // horizontal speed in pixels per frame, sign is direction
	blockColor int             // index into blockColors

	// Reused buffers, so a frame does not allocate.
	words   []word
	batches [numInks][]xproto.Rectangle
}

// newScene lays out a scene over area (already clipped to the root) that
// runs at fps frames per second.
func newScene(p *Painter, area image.Rectangle, fps int) *scene {
	bw := clamp(area.Dx()/12, 1, 160)
	bh := clamp(area.Dy()/10, 1, 120)
	x := area.Min.X + (area.Dx()-bw)/4
	y := area.Min.Y + (area.Dy()-bh)/2
	return &scene{
		p:    p,
		area: area,
		// Cross the area in about three seconds whatever the frame rate.
		blockVX: max(1, (area.Dx()-bw)/(3*fps)),
		block:   image.Rect(x, y, x+bw, y+bh),
	}
}

// clamp limits v to [lo, hi].
func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

// appendLine appends the words of document line n to buf. Each line has
// its own generator seeded from (sceneSeed, n), so a line's content does
// not depend on which lines were generated before it.
func (s *scene) appendLine(buf []word, n int) []word {
	rng := rand.New(rand.NewPCG(sceneSeed, uint64(n)))
	if rng.IntN(7) == 0 {
		return buf // blank line between paragraphs
	}
	width := s.area.Dx()
	margin := min(32, width/10)
	right := width - margin
	if rng.IntN(5) == 0 {
		// Last line of a paragraph: ragged and shorter.
		right = margin + (right-margin)*(25+rng.IntN(60))/100
	}
	for x := margin; ; {
		w := 8 + rng.IntN(64)
		if x+w > right {
			return buf
		}
		ink := inkText
		if rng.IntN(14) == 0 {
			ink = inkLink
		}
		buf = append(buf, word{x0: x, x1: x + w, ink: ink})
		x += w + wordGap
	}
}

// paintDocument queues the document content that belongs in r (root
// coordinates, inside the area) at the current scroll offset.
func (s *scene) paintDocument(r image.Rectangle) {
	s.batches[inkPaper] = append(s.batches[inkPaper], xrect(r))
	// Document rows covered by r.
	top := r.Min.Y - s.area.Min.Y + s.offset
	bottom := r.Max.Y - s.area.Min.Y + s.offset
	for n := top / lineHeight; n*lineHeight < bottom; n++ {
		glyph0 := n*lineHeight + glyphTop
		glyph1 := glyph0 + glyphHeight
		if glyph1 <= top || glyph0 >= bottom {
			continue
		}
		y0 := s.area.Min.Y + glyph0 - s.offset
		s.words = s.appendLine(s.words[:0], n)
		for _, w := range s.words {
			wr := image.Rect(s.area.Min.X+w.x0, y0, s.area.Min.X+w.x1, y0+glyphHeight).Intersect(r)
			if !wr.Empty() {
				s.batches[w.ink] = append(s.batches[w.ink], xrect(wr))
			}
		}
	}
}

// flush sends the queued rectangles, one PolyFillRectangle per ink in
// painting order, and empties the queues. The caller holds p.mu.
func (s *scene) flush() {
	for ink := range s.batches {
		if len(s.batches[ink]) == 0 {
			continue
		}
		s.p.fillRects(s.p.format.pixel(s.inkColor(ink)), s.batches[ink])
		s.batches[ink] = s.batches[ink][:0]
	}
}

// inkColor returns the colour of an ink at this moment.
func (s *scene) inkColor(ink int) color.RGBA {
	switch ink {
	case inkPaper:
		return paperColor
	case inkText:
		return textColor
	case inkLink:
		return linkColor
	default:
		return blockColors[s.blockColor]
	}
}

// drawInitial paints the whole area: the document at its current offset
// and the block on top.
func (s *scene) drawInitial() error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.p.closed {
		return ErrClosed
	}
	s.paintDocument(s.area)
	s.batches[inkBlock] = append(s.batches[inkBlock], xrect(s.block))
	s.flush()
	return s.p.roundTrip()
}

// step advances the animation by one frame: erase the block, scroll the
// area up by scrollStep with CopyArea (the server moves the pixels, which
// is far cheaper than repainting), paint the row that scrolled in, move
// the block and draw it again. It ends with a round trip, which both
// reports X errors and keeps the client from running ahead of a busy
// server.
func (s *scene) step() error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.p.closed {
		return ErrClosed
	}
	a := s.area

	// Erase first: the scroll would otherwise drag the block up with it.
	s.paintDocument(s.block)
	s.flush()

	scroll := min(scrollStep, a.Dy())
	if h := a.Dy() - scroll; h > 0 {
		xproto.CopyArea(s.p.conn, xproto.Drawable(s.p.root), xproto.Drawable(s.p.root), s.p.gc,
			int16(a.Min.X), int16(a.Min.Y+scroll), int16(a.Min.X), int16(a.Min.Y),
			uint16(a.Dx()), uint16(h))
	}
	s.offset += scroll
	s.paintDocument(image.Rect(a.Min.X, a.Max.Y-scroll, a.Max.X, a.Max.Y))

	s.moveBlock()
	s.batches[inkBlock] = append(s.batches[inkBlock], xrect(s.block))
	s.flush()
	return s.p.roundTrip()
}

// moveBlock moves the block horizontally, bouncing off the area's sides
// and changing colour at each bounce.
func (s *scene) moveBlock() {
	b := s.block.Add(image.Pt(s.blockVX, 0))
	switch {
	case b.Max.X > s.area.Max.X:
		b = b.Sub(image.Pt(b.Max.X-s.area.Max.X, 0))
	case b.Min.X < s.area.Min.X:
		b = b.Add(image.Pt(s.area.Min.X-b.Min.X, 0))
	default:
		s.block = b
		return
	}
	s.blockVX = -s.blockVX
	s.blockColor = (s.blockColor + 1) % len(blockColors)
	s.block = b
}

// Animate draws the scrolling-document scene into area (root coordinates,
// clipped to the root; the zero Rectangle means the whole root window) at
// fps frames per second until ctx is done, and then returns nil. It
// returns early only on an X error or if the Painter is closed. Frames
// that cannot be drawn in time are skipped rather than queued.
func (p *Painter) Animate(ctx context.Context, area image.Rectangle, fps int) error {
	if fps < 1 || fps > MaxFPS {
		return fmt.Errorf("%w: %d (want 1..%d)", ErrBadFPS, fps, MaxFPS)
	}
	if area == (image.Rectangle{}) {
		area = p.Bounds()
	}
	area, err := p.clip(area)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	s := newScene(p, area, fps)
	if err := s.drawInitial(); err != nil {
		return err
	}
	ticker := time.NewTicker(time.Second / time.Duration(fps))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			if err := s.step(); err != nil {
				return err
			}
		}
	}
}

// Animate connects to display (empty means $DISPLAY) and runs
// Painter.Animate on a connection of its own until ctx is done.
func Animate(ctx context.Context, display string, area image.Rectangle, fps int) error {
	p, err := Connect(display)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Animate(ctx, area, fps)
}
