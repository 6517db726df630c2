package xscene

import (
	"context"
	"image"

	"github.com/jezek/xgb/xproto"
)

// scrollStep is how many pixels a document scrolls per update: "a few",
// like smooth scrolling.
const scrollStep = 2

// scroller scrolls a document up by scrollStep per update. It is both
// Animate's scene, which scrolls its whole area with a block bouncing
// across it, and SceneScrolling, which scrolls a window's body under a
// static title bar.
type scroller struct {
	p      *Painter
	l      layers
	doc    document
	chrome *window // painted once by start; nil when the document fills the area
	step   int     // pixels scrolled per update (0: scrollStep)

	hasBlock   bool
	block      image.Rectangle // where the block is drawn now, in root coordinates
	blockVX    int             // horizontal speed in pixels per update, sign is direction
	blockColor int             // index into blockColors
}

// newAnimation lays out Animate's scene over area (already clipped to the
// root): the document fills the area and a block crosses it in about
// three seconds whatever the frame rate.
func newAnimation(p *Painter, area image.Rectangle, fps int) *scroller {
	bw := clamp(area.Dx()/12, 1, 160)
	bh := clamp(area.Dy()/10, 1, 120)
	x := area.Min.X + (area.Dx()-bw)/4
	y := area.Min.Y + (area.Dy()-bh)/2
	return &scroller{
		p:        p,
		l:        newLayers(area),
		doc:      document{area: area},
		hasBlock: true,
		blockVX:  max(1, (area.Dx()-bw)/(3*fps)),
		block:    image.Rect(x, y, x+bw, y+bh),
	}
}

// newScrolling lays out SceneScrolling over area: a window whose body is
// the scrolling document.
func newScrolling(p *Painter, area image.Rectangle) *scroller {
	w := newWindow(area)
	return &scroller{
		p:      p,
		l:      newLayers(area),
		doc:    document{area: w.body},
		chrome: &w,
	}
}

// start paints the whole area: chrome, the document at its current offset
// and the block on top.
func (s *scroller) start() {
	if s.chrome != nil {
		// The window's chrome in the standard colours, whatever the document's.
		chrome := newLayers(s.l.clip)
		s.chrome.paint(&chrome)
		chrome.flush(s.p)
	}
	s.doc.paint(&s.l, s.doc.area)
	if s.hasBlock {
		s.l.colors[inkBlock] = blockColors[s.blockColor]
		s.l.add(inkBlock, s.block)
	}
	s.l.flush(s.p)
}

// update advances by one frame: erase the block, scroll the document up
// by scrollStep with CopyArea (the server moves the pixels, which is far
// cheaper than repainting), paint the row that scrolled in, move the
// block and draw it again.
func (s *scroller) update() {
	a := s.doc.area
	if a.Empty() {
		return
	}
	if s.hasBlock {
		// Erase first: the scroll would otherwise drag the block up with it.
		s.doc.paint(&s.l, s.block)
		s.l.flush(s.p)
	}

	step := s.step
	if step == 0 {
		step = scrollStep
	}
	scroll := min(step, a.Dy())
	if h := a.Dy() - scroll; h > 0 {
		xproto.CopyArea(s.p.conn, xproto.Drawable(s.p.root), xproto.Drawable(s.p.root), s.p.gc,
			int16(a.Min.X), int16(a.Min.Y+scroll), int16(a.Min.X), int16(a.Min.Y),
			uint16(a.Dx()), uint16(h))
	}
	s.doc.offset += scroll
	s.doc.paint(&s.l, image.Rect(a.Min.X, a.Max.Y-scroll, a.Max.X, a.Max.Y))

	if s.hasBlock {
		s.moveBlock()
		s.l.colors[inkBlock] = blockColors[s.blockColor]
		s.l.add(inkBlock, s.block)
	}
	s.l.flush(s.p)
}

// moveBlock moves the block horizontally, bouncing off the area's sides
// and changing colour at each bounce.
func (s *scroller) moveBlock() {
	a := s.doc.area
	b := s.block.Add(image.Pt(s.blockVX, 0))
	switch {
	case b.Max.X > a.Max.X:
		b = b.Sub(image.Pt(b.Max.X-a.Max.X, 0))
	case b.Min.X < a.Min.X:
		b = b.Add(image.Pt(a.Min.X-b.Min.X, 0))
	default:
		s.block = b
		return
	}
	s.blockVX = -s.blockVX
	s.blockColor = (s.blockColor + 1) % len(blockColors)
	s.block = b
}

// Animate draws a scrolling document with a block bouncing across it
// into area (root coordinates, clipped to the root; the zero Rectangle
// means the whole root window) at fps frames per second until ctx is
// done, and then returns nil. It returns early only on an X error or if
// the Painter is closed. Frames that cannot be drawn in time are skipped
// rather than queued.
//
// Unlike SceneScrolling, the document fills the whole area with no
// window around it, and the block adds a moving object on top.
func (p *Painter) Animate(ctx context.Context, area image.Rectangle, fps int) error {
	area, err := p.prepare(area, fps)
	if err != nil || ctx.Err() != nil {
		return err
	}
	return p.play(ctx, newAnimation(p, area, fps), fps)
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
