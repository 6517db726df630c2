package xscene

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"time"

	"github.com/jezek/xgb/xproto"
)

// MaxFPS is the highest frame rate Animate accepts.
const MaxFPS = 1000

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

// prepare validates a frame rate and resolves and clips an area as
// Animate takes them.
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
// drawn after the ones before it, so that text lands on paper and the
// moving block on top of everything.
const (
	inkPaper = iota // documents
	inkText         // text
	inkLink         // links in documents
	inkBlock        // Animate's moving block
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
		inkPaper: paperColor,
		inkText:  textColor,
		inkLink:  linkColor,
		inkBlock: blockColors[0],
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
