package xscene

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"strings"
	"time"

	"github.com/jezek/xgb/xproto"
)

// MaxFPS is the highest frame rate Animate and Play accept.
const MaxFPS = 1000

// Scene names, as accepted by Play. Each is what one kind of desktop
// activity looks like to an encoder; see Play for what they draw.
const (
	SceneIdle      = "idle"
	SceneTyping    = "typing"
	SceneScrolling = "scrolling"
	SceneVideo     = "video"
	SceneSheet     = "spreadsheet"
	SceneTerminal  = "terminal"
)

// scenes maps each scene name, in the order Scenes lists them, to the
// constructor of its player. The order runs from the least to the most
// changing content.
var scenes = []struct {
	name string
	new  func(p *Painter, area image.Rectangle, fps int) player
}{
	{SceneIdle, func(p *Painter, area image.Rectangle, fps int) player { return newIdle(p, area, fps) }},
	{SceneTyping, func(p *Painter, area image.Rectangle, _ int) player { return newTyping(p, area) }},
	{SceneScrolling, func(p *Painter, area image.Rectangle, _ int) player { return newScrolling(p, area) }},
	{SceneVideo, func(p *Painter, area image.Rectangle, _ int) player { return newVideo(p, area) }},
	{SceneSheet, func(p *Painter, area image.Rectangle, _ int) player { return newSheet(p, area) }},
	{SceneTerminal, func(p *Painter, area image.Rectangle, _ int) player { return newTerminal(p, area) }},
}

// Scenes lists the scene names Play accepts, in a fixed order: idle,
// typing, scrolling, video, spreadsheet, terminal. The slice is the
// caller's to modify.
func Scenes() []string {
	names := make([]string, len(scenes))
	for i, s := range scenes {
		names[i] = s.name
	}
	return names
}

// Mixed3 lists the scenes of the mixed-3 benchmark, one per monitor in
// monitor order: typing, scrolling, video. Each monitor thus shows a
// different amount of change, from a few small rectangles per update to a
// full-motion region. The slice is the caller's to modify.
func Mixed3() []string {
	return []string{SceneTyping, SceneScrolling, SceneVideo}
}

// player is one running scene. Its methods queue X requests and are
// called with the Painter's mutex held; the caller then waits for the
// server (Painter.locked).
type player interface {
	// start paints the whole area: the first frame.
	start()
	// update draws the next frame over the previous one, changing only
	// what differs. A scene is a pure function of how many updates it has
	// drawn, so a run is reproducible frame by frame.
	update()
}

// Play draws the named scene into area (root coordinates, clipped to the
// root; the zero Rectangle means the whole root window) until ctx is
// done, and then returns nil. It returns early only on an X error or if
// the Painter is closed. fps is the scene's update rate; updates that
// cannot be drawn in time are skipped rather than queued, which slows
// the scene down but never changes what frame n looks like.
//
// Every scene is a window (title bar over a body) on a desktop
// background; what changes is the body:
//
//   - SceneIdle: a form of labelled fields and two buttons, drawn once,
//     with a 2×16 caret blinking every 530 ms in the focused field. fps
//     only sets the clock the blink is quantised to.
//   - SceneTyping: a text box into which one keystroke per update is
//     typed (so fps is the typing rate in characters per second): a
//     glyph-like bar, a space or a paragraph break, with word wrap and a
//     solid caret following; a full box is cleared and typing starts on
//     the next page.
//   - SceneScrolling: a document of text lines scrolling up 2 px per
//     update.
//   - SceneVideo: a static document page with a 16:9 region of at most
//     640×360 whose pixels all change every update (moving colour waves
//     with grain), drawn with PutImage.
//   - SceneSheet: a spreadsheet grid of right-aligned numbers; one digit
//     per update is typed into the selected cell, Enter moves the
//     selection down, and every fourth entry rewrites 16 cells of the
//     next column (a recalculation).
//   - SceneTerminal: a dark terminal printing one line of output per
//     update, the whole text scrolling up a line at a time once full.
//
// An unknown name returns an error wrapping ErrUnknownScene.
func (p *Painter) Play(ctx context.Context, name string, area image.Rectangle, fps int) error {
	newPlayer, err := lookupScene(name)
	if err != nil {
		return err
	}
	area, err = p.prepare(area, fps)
	if err != nil || ctx.Err() != nil {
		return err
	}
	return p.play(ctx, newPlayer(p, area, fps), fps)
}

// Play connects to display (empty means $DISPLAY) and runs Painter.Play
// on a connection of its own until ctx is done. An unknown scene name is
// reported without connecting.
func Play(ctx context.Context, display, name string, area image.Rectangle, fps int) error {
	if _, err := lookupScene(name); err != nil {
		return err
	}
	p, err := Connect(display)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Play(ctx, name, area, fps)
}

// lookupScene returns the constructor of the named scene's player.
func lookupScene(name string) (func(p *Painter, area image.Rectangle, fps int) player, error) {
	for _, s := range scenes {
		if s.name == name {
			return s.new, nil
		}
	}
	return nil, fmt.Errorf("%w: %q (want one of %s)", ErrUnknownScene, name, strings.Join(Scenes(), ", "))
}

// prepare validates a frame rate and resolves and clips an area as Play
// and Animate take them.
func (p *Painter) prepare(area image.Rectangle, fps int) (image.Rectangle, error) {
	if fps < 1 || fps > MaxFPS {
		return image.Rectangle{}, fmt.Errorf("%w: %d (want 1..%d)", ErrBadFPS, fps, MaxFPS)
	}
	if area == (image.Rectangle{}) {
		area = p.Bounds()
	}
	return p.clip(area)
}

// play draws pl's first frame and then one update per tick until ctx is
// done. A ticker drops ticks while an update is late, so a slow server
// makes the scene skip frames instead of falling ever further behind.
func (p *Painter) play(ctx context.Context, pl player, fps int) error {
	if err := p.locked(pl.start); err != nil {
		return err
	}
	ticker := time.NewTicker(time.Second / time.Duration(fps))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			if err := p.locked(pl.update); err != nil {
				return err
			}
		}
	}
}

// clamp limits v to [lo, hi].
func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

// Inks are the colours of the scenes, in painting order: each ink is
// drawn after the ones before it, so that text lands on paper, labels on
// buttons and the moving block on top of everything.
const (
	inkDesk       = iota // desktop background around the window
	inkChrome            // title bar
	inkChromeText        // title and window buttons on the title bar
	inkWindow            // the window's face, around form fields
	inkBorder            // field borders; the secondary button
	inkFocus             // the focused field's border
	inkPaper             // documents and field interiors
	inkText              // text and carets
	inkLink              // links in documents
	inkButton            // the primary button
	inkButtonText        // the primary button's label
	inkVideoFrame        // the frame around the video
	inkBlock             // Animate's moving block
	numInks
)

// Fixed colours.
var (
	paperColor = color.RGBA{0xff, 0xff, 0xff, 0xff}
	textColor  = color.RGBA{0x20, 0x21, 0x24, 0xff}
	linkColor  = color.RGBA{0x1a, 0x56, 0xc8, 0xff}
	// blockColors cycle each time Animate's block bounces off a side.
	blockColors = []color.RGBA{
		{0xe5, 0x39, 0x35, 0xff}, // red
		{0x43, 0xa0, 0x47, 0xff}, // green
		{0xfb, 0x8c, 0x00, 0xff}, // orange
		{0x8e, 0x24, 0xaa, 0xff}, // purple
	}
	// inkColors is the colour of each ink, the block's being its first.
	inkColors = [numInks]color.RGBA{
		inkDesk:       {0x3b, 0x42, 0x52, 0xff},
		inkChrome:     {0x2e, 0x34, 0x40, 0xff},
		inkChromeText: {0xd8, 0xde, 0xe9, 0xff},
		inkWindow:     {0xec, 0xef, 0xf4, 0xff},
		inkBorder:     {0xa0, 0xa8, 0xb8, 0xff},
		inkFocus:      linkColor,
		inkPaper:      paperColor,
		inkText:       textColor,
		inkLink:       linkColor,
		inkButton:     linkColor,
		inkButtonText: paperColor,
		inkVideoFrame: {0x00, 0x00, 0x00, 0xff},
		inkBlock:      blockColors[0],
	}
)

// layers collects the rectangles of a frame by ink, so that a frame costs
// one PolyFillRectangle per ink used rather than one per rectangle.
type layers struct {
	clip   image.Rectangle // everything is clipped to the scene's area
	colors [numInks]color.RGBA
	rects  [numInks][]xproto.Rectangle
}

// newLayers returns empty layers with the standard colours that draw
// only inside clip, which must lie inside the root window.
func newLayers(clip image.Rectangle) layers {
	return layers{clip: clip, colors: inkColors}
}

// add queues r, clipped to the scene's area, to be painted with ink.
func (l *layers) add(ink int, r image.Rectangle) {
	r = r.Intersect(l.clip)
	if !r.Empty() {
		l.rects[ink] = append(l.rects[ink], xrect(r))
	}
}

// flush sends the queued rectangles in painting order and empties the
// queues, keeping their memory so a frame does not allocate. The caller
// holds p.mu.
func (l *layers) flush(p *Painter) {
	for ink := range l.rects {
		if len(l.rects[ink]) > 0 {
			p.fillRects(p.format.pixel(l.colors[ink]), l.rects[ink])
			l.rects[ink] = l.rects[ink][:0]
		}
	}
}
